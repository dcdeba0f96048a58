// One pin: everything the service says about it. While the pin is not final (queued, pinning)
// the view asks again every few seconds and shows the latest reason (info.status_details).
import { call } from "./api.js";
import { bytes, confirmDialog, copyButton, fill, h, notice, statusBadge, time, toast } from "./dom.js";

export const REFRESH_SECONDS = 5;
const FINAL = new Set(["pinned", "failed"]);

/** Size and an "open" link, where the service keeps the content (info.dag_size is set). */
export function sizeCell(p) {
  const size = p.info?.dag_size;
  if (size === undefined || size === null || size === "" || Number.isNaN(Number(size))) {
    return h("span", { class: "muted" }, "—");
  }
  const label = p.pin.name ?? p.pin.cid;
  return h(
    "span",
    { class: "size" },
    h("data", { class: "bytes", value: String(size), title: `${Number(size).toLocaleString()} bytes` }, bytes(Number(size))),
    " ",
    h("a", { href: `/ipfs/${encodeURIComponent(p.pin.cid)}`, target: "_blank", rel: "noopener", "aria-label": `Open ${label}` }, "open"),
  );
}

/**
 * Asks before deleting a pin, then deletes it: `null` when the person cancelled, else whether
 * the pin is gone (a failure is shown as a toast). The list and the detail view share it.
 */
export async function deletePin(p, label) {
  const ok = await confirmDialog({
    title: "Delete this pin?",
    text: `“${label}” (${p.pin.cid}) will no longer be pinned for you. Other pins of the same CID are not affected.`,
    action: "Delete pin",
  });
  if (!ok) return null;
  try {
    await call("DELETE", `/pins/${encodeURIComponent(p.requestid)}`);
    toast(`Deleted ${label}`);
    return true;
  } catch (err) {
    toast(err.message);
    return false;
  }
}

export function renderDetail(view, requestid) {
  let alive = true;
  let timer;
  document.title = "Pin · Pinning console";
  const heading = h("h1", { tabindex: "-1" }, "Pin");
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted loading" }, "Loading the pin…"));
  fill(
    view,
    h("p", { class: "back" }, h("a", { href: "#/pins" }, "← All pins")),
    h("div", { class: "head" }, heading),
    body,
  );

  async function load(first) {
    try {
      const p = await call("GET", `/pins/${encodeURIComponent(requestid)}`);
      if (!alive) return;
      show(p, first);
      if (!FINAL.has(p.status)) timer = setTimeout(() => load(false), REFRESH_SECONDS * 1000);
    } catch (err) {
      if (!alive) return;
      body.removeAttribute("aria-busy");
      if (err.kind === "notfound") {
        fill(body, notice("error", "There is no such pin (it may have been deleted or replaced)."));
      } else if (first) {
        fill(body, notice("error", err.message));
      } else {
        // A failed refresh keeps what is shown and tries again.
        fill(document.getElementById("refresh-note"), `Could not refresh (${err.message}); trying again.`);
        timer = setTimeout(() => load(false), REFRESH_SECONDS * 1000);
      }
    }
  }

  function show(p, first) {
    const label = p.pin.name ?? "Unnamed pin";
    body.removeAttribute("aria-busy");
    if (!first && document.getElementById("pin-status")) {
      // A refresh replaces only what can change, so focus and reading position stay put.
      document.getElementById("pin-status").replaceWith(statusCard(p));
      document.getElementById("sec-info").parentElement.replaceWith(infoCard(p));
      return;
    }
    heading.textContent = label;
    document.title = `${label} · Pinning console`;
    fill(
      body,
      statusCard(p),
      h(
        "section",
        { class: "card", "aria-labelledby": "pin-facts-title" },
        h("h2", { id: "pin-facts-title" }, "Pin"),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "Name"),
          h("dd", {}, p.pin.name ?? h("span", { class: "muted" }, "none")),
          h("dt", {}, "CID"),
          h("dd", { class: "cid" }, h("code", {}, p.pin.cid), copyButton(p.pin.cid, `CID of ${label}`)),
          h("dt", {}, "Request id"),
          h("dd", { class: "cid" }, h("code", {}, p.requestid), copyButton(p.requestid, "request id")),
          h("dt", {}, "Created"),
          h("dd", {}, time(p.created)),
          p.info?.dag_size !== undefined && [h("dt", {}, "Size"), h("dd", {}, sizeCell(p))],
        ),
      ),
      h(
        "div",
        { class: "detail-grid" },
        infoCard(p),
        section("Delegates", list(p.delegates, "No delegates.")),
        section("Origins", list(p.pin.origins, "No origins given.")),
        section("Meta", p.pin.meta && Object.keys(p.pin.meta).length ? pairs(Object.entries(p.pin.meta)) : none("No meta.")),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => remove(p, label) }, "Delete this pin"),
      ),
    );
    heading.focus();
  }

  async function remove(p, label) {
    if (await deletePin(p, label)) location.hash = "#/pins";
  }

  load(true);
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}

function statusCard(p) {
  const details = p.info?.status_details;
  return h(
    "section",
    { class: "card", id: "pin-status", "aria-labelledby": "pin-status-title" },
    h("h2", { id: "pin-status-title" }, "Status"),
    h(
      "div",
      { class: "status-line", role: "status" },
      statusBadge(p.status),
      details ? h("span", { class: "details" }, details) : h("span", { class: "muted" }, "No details given."),
    ),
    !FINAL.has(p.status) &&
      h(
        "p",
        { class: "muted", id: "refresh-note" },
        `Not final yet: checking again every ${REFRESH_SECONDS} seconds. Last checked `,
        h("time", { datetime: new Date().toISOString() }, new Date().toLocaleTimeString()),
        ".",
      ),
  );
}

function infoCard(p) {
  const info = Object.entries(p.info ?? {});
  return section("Info", info.length ? pairs(info) : none("No info."));
}

function section(title, content) {
  const id = `sec-${title.toLowerCase()}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), content);
}

function pairs(entries) {
  return h(
    "table",
    { class: "pairs" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"))),
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, String(v))))),
  );
}

function list(items, empty) {
  if (!items || items.length === 0) return none(empty);
  return h("ul", { class: "plain" }, items.map((x) => h("li", {}, h("code", {}, x))));
}

function none(text) {
  return h("p", { class: "muted" }, text);
}
