// What the service offers beyond the Pinning Service API. A service that keeps content itself
// (the r2 backend) answers GET /usage, and with it takes CAR uploads (POST /car) and serves
// /ipfs/{cid}; any other answer hides those parts of the console.
import { call } from "./api.js";
import { bytes, fill, h, notice, plural, statusBadge } from "./dom.js";

export const features = { usage: false, lastUsage: null };

export async function detectFeatures() {
  try {
    features.lastUsage = await call("GET", "/usage");
    features.usage = isUsage(features.lastUsage);
  } catch {
    // 404 (no such route) or anything else: the service has no usage, hence no uploads either.
    features.usage = false;
    features.lastUsage = null;
  }
  return features;
}

function isUsage(u) {
  return Boolean(u && typeof u === "object" && u.pins && typeof u.bytes === "number");
}

export function renderUsage(view) {
  let alive = true;
  document.title = "Usage · Pinning console";
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted loading" }, "Loading usage…"));
  fill(
    view,
    h("div", { class: "head" }, h("h1", { tabindex: "-1" }, "Usage")),
    h("section", { class: "card", "aria-label": "Usage" }, body),
  );
  call("GET", "/usage")
    .then((u) => {
      if (!alive) return;
      body.removeAttribute("aria-busy");
      if (!isUsage(u)) {
        fill(body, notice("error", "The service answered with something other than usage figures."));
        return;
      }
      const statuses = ["queued", "pinning", "pinned", "failed"];
      const total = statuses.reduce((n, s) => n + (Number(u.pins[s]) || 0), 0);
      const quota = typeof u.quota_bytes === "number" ? u.quota_bytes : null;
      fill(
        body,
        h("h2", {}, "Pins"),
        h(
          "ul",
          { class: "counts" },
          statuses.map((s) =>
            h("li", {}, statusBadge(s), h("strong", {}, (Number(u.pins[s]) || 0).toLocaleString())),
          ),
        ),
        h("p", { class: "muted" }, `${plural(total, "pin")} in all.`),
        h("h2", {}, "Storage"),
        quota === null
          ? h("p", {}, `${bytes(u.bytes)} stored. No quota applies.`)
          : [
              h("label", { for: "usage-meter" }, `${bytes(u.bytes)} of ${bytes(quota)} used`),
              h("meter", { id: "usage-meter", min: 0, max: quota, value: u.bytes, high: quota * 0.9 }),
            ],
      );
    })
    .catch((err) => {
      if (alive) fill(body, notice("error", err.message));
    });
  return () => {
    alive = false;
  };
}

/** The .car upload, or nothing when the service does not take uploads. `done` gets the new pin. */
export function uploadControl(done) {
  if (!features.usage) return null;
  const file = h("input", { id: "car-file", type: "file", accept: ".car,application/vnd.ipld.car" });
  const name = h("input", { id: "car-name", maxlength: 255, autocomplete: "off" });
  const status = h("div", { class: "status-slot" });
  const button = h("button", { type: "submit" }, "Upload");
  const form = h(
    "form",
    { class: "card upload", "aria-labelledby": "upload-title", novalidate: true },
    h("h2", { id: "upload-title" }, "Upload a .car file"),
    h("p", { class: "muted" }, "The content itself, as a CAR (e.g. from ipfs dag export): its root is pinned."),
    h("div", { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "car-file" }, "CAR file"), file),
      h("div", { class: "field grow" }, h("label", { for: "car-name" }, "Name (optional)"), name),
      h("div", { class: "field" }, button),
    ),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) {
      fill(status, notice("error", "Choose a .car file first."));
      file.focus();
      return;
    }
    button.disabled = true;
    fill(status, notice("info", `Uploading ${f.name} (${bytes(f.size)})…`));
    try {
      const q = name.value ? `?name=${encodeURIComponent(name.value)}` : "";
      const pin = await call("POST", `/car${q}`, { raw: f, contentType: "application/vnd.ipld.car" });
      fill(status, notice("success", "Uploaded: ", pin?.pin?.cid ?? f.name, ` is ${pin?.status ?? "received"}.`));
      form.reset();
      done(pin);
    } catch (err) {
      fill(status, notice("error", err.message));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
