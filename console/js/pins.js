// The pin list: newest first, exact count, status filter, search by name or CID, paging with
// `before` (the service's `created` is unique per user, so a page starts exactly after the last
// pin of the one before: nothing skipped, nothing repeated), add and delete.
import { ApiError, call, query } from "./api.js";
import { copyButton, fill, h, notice, plural, statusBadge, time } from "./dom.js";
import { features, uploadControl } from "./usage.js";
import { deletePin, sizeCell } from "./detail.js";

export const PAGE_SIZE = 20;
const ALL = "queued,pinning,pinned,failed";
const STATUS_CHOICES = [
  ["", "Any status"],
  ["pinned", "Pinned"],
  ["pinning", "Pinning"],
  ["queued", "Queued"],
  ["failed", "Failed"],
];

// Kept while the console is open, so coming back from a pin's details returns to the same page.
const state = { search: "", status: "", cursors: [], highlight: null };

/** A CID's shape (CIDv0, or CIDv1 in base32, base58btc, base36 or base16): searched as a CID. */
export function looksLikeCid(s) {
  return /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{40,}|B[A-Z2-7]{40,}|z[1-9A-HJ-NP-Za-km-z]{40,}|k[0-9a-z]{40,}|f[0-9a-f]{40,})$/.test(
    s,
  );
}

export function renderPins(view) {
  let alive = true;
  let loadSeq = 0;
  document.title = "Pins · Pinning console";

  // --- add ---
  const cid = h("input", {
    id: "add-cid",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "bafy… or Qm…",
    "aria-describedby": "add-status",
  });
  const name = h("input", { id: "add-name", maxlength: 255, autocomplete: "off" });
  const addStatus = h("div", { id: "add-status", class: "status-slot" });
  const addButton = h("button", { type: "submit", class: "primary" }, "Add pin");
  const addForm = h(
    "form",
    { class: "card add", "aria-labelledby": "add-title", novalidate: true },
    h("h2", { id: "add-title" }, "Add a pin"),
    h(
      "div",
      { class: "row" },
      h("div", { class: "field grow2" }, h("label", { for: "add-cid" }, "CID"), cid),
      h("div", { class: "field grow" }, h("label", { for: "add-name" }, "Name (optional)"), name),
      h("div", { class: "field" }, addButton),
    ),
    addStatus,
  );
  addForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = cid.value.trim();
    if (!value) {
      fill(addStatus, notice("error", "Enter the CID to pin."));
      cid.focus();
      return;
    }
    addButton.disabled = true;
    fill(addStatus);
    try {
      const body = { cid: value };
      if (name.value) body.name = name.value;
      const pin = await call("POST", "/pins", { body });
      if (!alive) return;
      addForm.reset();
      fill(addStatus, notice("success", "Added ", pin.pin.name ?? pin.pin.cid, ` (${pin.status}).`));
      Object.assign(state, { search: "", status: "", cursors: [], highlight: pin.requestid });
      search.value = "";
      status.value = "";
      load();
      cid.focus();
    } catch (err) {
      if (alive) fill(addStatus, notice("error", err.message));
    } finally {
      addButton.disabled = false;
    }
  });

  // --- filters ---
  const search = h("input", {
    id: "pin-search",
    type: "search",
    value: state.search,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "Name or CID",
  });
  const status = h(
    "select",
    { id: "pin-status" },
    STATUS_CHOICES.map(([value, label]) => h("option", { value, selected: value === state.status && "selected" }, label)),
  );
  let debounce;
  const applyFilters = () => {
    clearTimeout(debounce);
    state.search = search.value.trim();
    state.status = status.value;
    state.cursors = [];
    load();
  };
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(applyFilters, 350);
  });
  status.addEventListener("change", applyFilters);
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find pins", novalidate: true },
    h("div", { class: "field grow" }, h("label", { for: "pin-search" }, "Search by name or CID"), search),
    h("div", { class: "field" }, h("label", { for: "pin-status" }, "Status"), status),
  );
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    applyFilters();
  });

  // --- list ---
  const summary = h("p", { id: "pins-summary", class: "summary", role: "status" });
  const list = h("div", { class: "list" });
  const newer = h("button", { type: "button", id: "page-newer" }, "← Newer");
  const older = h("button", { type: "button", id: "page-older" }, "Older →");
  const position = h("span", { class: "muted", id: "page-position" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages of pins" }, newer, position, older);
  newer.addEventListener("click", () => {
    state.cursors.pop();
    load(newer);
  });
  older.addEventListener("click", () => {
    state.cursors.push(older.dataset.before);
    load(older);
  });

  fill(
    view,
    h("div", { class: "head" }, h("h1", { tabindex: "-1" }, "Pins")),
    addForm,
    uploadControl((pin) => {
      Object.assign(state, { search: "", status: "", cursors: [], highlight: pin.requestid });
      search.value = "";
      status.value = "";
      load();
    }),
    h("section", { class: "card", "aria-labelledby": "list-title" },
      h("h2", { id: "list-title", class: "visually-hidden" }, "Your pins"),
      filters,
      summary,
      list,
      pager,
    ),
  );

  async function load(keepFocusOn) {
    const seq = ++loadSeq;
    list.setAttribute("aria-busy", "true");
    if (!list.firstChild || list.firstChild.classList?.contains("empty")) {
      fill(list, h("p", { class: "muted loading" }, "Loading pins…"));
    } else {
      list.classList.add("stale");
    }
    const before = state.cursors[state.cursors.length - 1];
    const params = { status: state.status || ALL, limit: PAGE_SIZE, before };
    let byCid = state.search && looksLikeCid(state.search);
    let note = null;
    try {
      let page;
      try {
        page = await call("GET", `/pins${query(byCid ? { ...params, cid: state.search } : withName(params))}`);
      } catch (err) {
        // A name that merely looks like a CID: the service says it is not one, so search names.
        if (!(byCid && err instanceof ApiError && err.status === 400)) throw err;
        byCid = false;
        note = "Not a valid CID: searched names instead.";
        page = await call("GET", `/pins${query(withName(params))}`);
      }
      if (!alive || seq !== loadSeq) return;
      show(page, byCid, note);
      if (keepFocusOn && !keepFocusOn.disabled) keepFocusOn.focus();
      else if (keepFocusOn) (keepFocusOn === older ? newer : older).focus();
    } catch (err) {
      if (!alive || seq !== loadSeq) return;
      list.classList.remove("stale");
      list.removeAttribute("aria-busy");
      fill(list, notice("error", err.message, " ", retryButton()));
      fill(summary);
    }
  }

  function withName(params) {
    return state.search ? { ...params, name: state.search, match: "ipartial" } : params;
  }

  function retryButton() {
    return h("button", { type: "button", class: "quiet", onclick: () => load() }, "Try again");
  }

  function show(page, byCid, note) {
    list.classList.remove("stale");
    list.removeAttribute("aria-busy");
    const offset = state.cursors.length * PAGE_SIZE;
    const total = offset + page.count;
    const filtered = Boolean(state.search || state.status);
    const what = byCid ? `with CID ${state.search}` : state.search ? `named like “${state.search}”` : "";
    fill(
      summary,
      plural(total, filtered ? "matching pin" : "pin"),
      state.status ? ` · ${state.status}` : "",
      what ? ` · ${what}` : "",
      note ? ` · ${note}` : "",
    );
    if (page.results.length === 0) {
      fill(
        list,
        h(
          "div",
          { class: "empty" },
          filtered
            ? h("p", {}, "No pins match. Try another name, CID or status.")
            : [h("p", {}, h("strong", {}, "No pins yet.")), h("p", { class: "muted" }, "Add one with its CID above.")],
        ),
      );
    } else {
      fill(list, table(page.results));
    }
    const last = page.results[page.results.length - 1];
    newer.disabled = state.cursors.length === 0;
    older.disabled = !last || page.results.length >= page.count;
    if (last) older.dataset.before = last.created;
    position.textContent = page.results.length
      ? `${(offset + 1).toLocaleString()}–${(offset + page.results.length).toLocaleString()} of ${total.toLocaleString()}`
      : "";
    pager.hidden = newer.disabled && older.disabled;
  }

  function table(pins) {
    const sized = features.usage || pins.some((p) => p.info && p.info.dag_size !== undefined);
    return h(
      "table",
      { class: "pins" },
      h("caption", { class: "visually-hidden" }, "Pins, newest first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Status"),
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "CID"),
          h("th", { scope: "col" }, "Created"),
          sized && h("th", { scope: "col" }, "Size"),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
        ),
      ),
      h("tbody", {}, pins.map((p) => row(p, sized))),
    );
  }

  function row(p, sized) {
    const label = p.pin.name ?? "Unnamed pin";
    const tr = h(
      "tr",
      { class: p.requestid === state.highlight ? "highlight" : undefined, dataset: { requestid: p.requestid } },
      h("td", { "data-label": "Status" }, statusBadge(p.status)),
      h(
        "td",
        { "data-label": "Name", class: "name" },
        h("a", { href: `#/pins/${encodeURIComponent(p.requestid)}`, class: p.pin.name === undefined ? "muted" : undefined }, label),
      ),
      h(
        "td",
        { "data-label": "CID", class: "cid" },
        h("code", { title: p.pin.cid }, p.pin.cid),
        copyButton(p.pin.cid, `CID of ${label}`),
      ),
      h("td", { "data-label": "Created" }, time(p.created)),
      sized && h("td", { "data-label": "Size" }, sizeCell(p)),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", class: "danger quiet", "aria-label": `Delete ${label}`, onclick: () => remove(p, label) }, "Delete"),
      ),
    );
    return tr;
  }

  async function remove(p, label) {
    if ((await deletePin(p, label)) === null) return;
    if (alive) load();
    document.getElementById("pin-search")?.focus();
  }

  load();
  return () => {
    alive = false;
    clearTimeout(debounce);
    state.highlight = null;
  };
}
