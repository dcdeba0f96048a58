// What the service offers beyond the Pinning Service API. A service that keeps content itself
// (the r2 backend) answers GET /usage, and with it takes CAR uploads (POST /car) and serves
// /ipfs/{cid}; any other answer hides those parts of the console.
import { ApiError, call } from "./api.js";
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
              h("label", { for: "usage-meter" }, `${bytes(u.bytes)} of ${bytes(quota)} used (${percent(u.bytes, quota)})`),
              h("meter", { id: "usage-meter", min: 0, max: quota, value: u.bytes, high: quota * 0.9 }),
              h(
                "p",
                { class: "muted" },
                u.bytes < quota ? `${bytes(quota - u.bytes)} left for uploads.` : "Full: uploads are refused until you delete pins.",
              ),
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

/**
 * Upload: a .car file as it is, or plain files packed into a CAR in the page first. Nothing
 * when the service does not take uploads. `done` gets the new pin.
 */
export function uploadControl(done) {
  if (!features.usage) return null;
  const file = h("input", { id: "car-file", type: "file", multiple: true });
  const name = h("input", { id: "car-name", maxlength: 255, autocomplete: "off" });
  const status = h("div", { class: "status-slot" });
  const button = h("button", { type: "submit" }, "Upload");
  const form = h(
    "form",
    { class: "card upload", "aria-labelledby": "upload-title", novalidate: true },
    h("h2", { id: "upload-title" }, "Upload files"),
    h(
      "p",
      { class: "muted" },
      "A .car file (e.g. from ipfs dag export) is sent as it is and its root pinned. Other files are packed ",
      "into a CAR here first, as ipfs-car packs them: one file is pinned as itself, several as a directory.",
    ),
    h("div", { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "car-file" }, "Files"), file),
      h("div", { class: "field grow" }, h("label", { for: "car-name" }, "Pin name (optional)"), name),
      h("div", { class: "field" }, button),
    ),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = [...file.files];
    if (!chosen.length) {
      fill(status, notice("error", "Choose a file first."));
      file.focus();
      return;
    }
    const asCar = chosen.length === 1 && /\.car$/i.test(chosen[0].name);
    const what = chosen.length === 1 ? chosen[0].name : `${chosen.length} files`;
    let pinName = name.value;
    button.disabled = true;
    try {
      let body = chosen[0];
      if (!asCar) {
        const packing = notice("info", `Packing ${what}…`);
        fill(status, packing);
        // Loaded on first use: only a service that takes uploads needs it.
        const { pack } = await import("./pack.js");
        const packed = await pack(chosen, (n, total) => fill(packing, `Packing ${what}: ${percent(n, total)}`));
        body = packed.car;
        if (!pinName && chosen.length === 1) pinName = chosen[0].name;
      }
      fill(status, notice("info", `Uploading ${what} (${bytes(body.size)})…`));
      const q = pinName ? `?name=${encodeURIComponent(pinName)}` : "";
      const pin = await call("POST", `/car${q}`, { raw: body, contentType: "application/vnd.ipld.car" });
      const size = pin.info?.dag_size;
      fill(
        status,
        notice("success", `Uploaded ${what}: `, h("code", {}, pin.pin.cid), ` is ${pin.status}`, size ? ` (${bytes(size)}).` : "."),
      );
      form.reset();
      done(pin);
    } catch (err) {
      fill(status, notice("error", ...(err instanceof ApiError ? await uploadRefused(err, what, asCar) : [err.message])));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** Why an upload was refused, with the service's own reason and what to do about it. */
async function uploadRefused(err, what, asCar) {
  if (err.status === 400 && asCar) return [`${what} is not a CAR the service accepts (nothing was kept): `, err.message];
  if (err.status === 413) return [`${what} is more than one upload may be: `, err.message];
  if (err.reason !== "QUOTA_EXCEEDED") return [err.message];
  const u = await call("GET", "/usage").catch(() => null);
  const room = isUsage(u) && typeof u.quota_bytes === "number"
    ? ` You keep ${bytes(u.bytes)} of your ${bytes(u.quota_bytes)}. Delete pins to make room.`
    : "";
  return ["Over your storage quota (nothing was kept): ", err.message, ".", room];
}

function percent(n, of) {
  return of > 0 ? `${Math.round((100 * n) / of)}%` : "100%";
}
