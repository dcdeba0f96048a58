// Device tokens: one per device, each revocable on its own. A new token is shown once, with the
// line that adds this service to Kubo.
import { call, endSession, session } from "./api.js";
import { confirmDialog, copyButton, fill, h, notice, plural, time, toast } from "./dom.js";

const EXPIRY_CHOICES = [
  [86400, "1 day"],
  [7 * 86400, "7 days"],
  [30 * 86400, "30 days"],
  [90 * 86400, "90 days"],
  [365 * 86400, "1 year"],
];
const DEFAULT_EXPIRY = 90 * 86400;

/** The name Kubo gives this service: the host's first label, or "edge" for an address. */
export function serviceName(hostname = location.hostname) {
  if (/^[\d.]+$/.test(hostname) || hostname.includes(":") || hostname === "localhost") return "edge";
  return hostname.split(".")[0].replace(/[^a-z0-9-]/gi, "-").toLowerCase() || "edge";
}

export function renderTokens(view) {
  let alive = true;
  document.title = "Device tokens · Pinning console";

  const label = h("input", { id: "token-label", required: true, maxlength: 100, autocomplete: "off", placeholder: "e.g. laptop" });
  const expiry = h(
    "select",
    { id: "token-expiry" },
    EXPIRY_CHOICES.map(([secs, text]) => h("option", { value: String(secs), selected: secs === DEFAULT_EXPIRY && "selected" }, text)),
  );
  const password = h("input", { id: "token-password", type: "password", required: true, autocomplete: "current-password" });
  const createStatus = h("div", { class: "status-slot" });
  const createButton = h("button", { type: "submit", class: "primary" }, "Create token");
  const created = h("div", { id: "new-token-slot" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-title", novalidate: true },
    h("h2", { id: "create-title" }, "Create a token for a device"),
    h("p", { class: "muted" }, "Give each device its own token, so you can revoke one without touching the others."),
    h(
      "div",
      { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "token-label" }, "Label"), label),
      h("div", { class: "field" }, h("label", { for: "token-expiry" }, "Expires after"), expiry),
      h("div", { class: "field" }, h("label", { for: "token-password" }, "Your password"), password),
      h("div", { class: "field" }, createButton),
    ),
    createStatus,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!label.value.trim()) {
      fill(createStatus, notice("error", "Give the token a label, such as the device's name."));
      label.focus();
      return;
    }
    if (!password.value) {
      fill(createStatus, notice("error", "Enter your password: new tokens are issued only for it."));
      password.focus();
      return;
    }
    createButton.disabled = true;
    fill(createStatus);
    try {
      const t = await call("POST", "/token", {
        auth: { basic: [session.get()?.user ?? "", password.value] },
        body: { label: label.value.trim(), expires_in: Number(expiry.value) },
      });
      if (!alive) return;
      form.reset();
      showCreated(t);
      load();
    } catch (err) {
      if (!alive) return;
      fill(createStatus, notice("error", err.kind === "auth" ? "Wrong password." : err.message));
      if (err.kind === "auth") password.focus();
    } finally {
      createButton.disabled = false;
    }
  });

  function showCreated(t) {
    const line = `ipfs pin remote service add ${serviceName()} ${location.origin} ${t.token}`;
    const done = h("button", { type: "button", class: "primary" }, "Done: I have copied it");
    done.addEventListener("click", () => {
      fill(created);
      label.focus();
    });
    fill(
      created,
      h(
        "section",
        { class: "card fresh", "aria-labelledby": "fresh-title", id: "new-token" },
        h("h2", { id: "fresh-title", tabindex: "-1" }, `Token “${t.label ?? "new"}” created`),
        notice("info", "Copy it now: it is shown only once. It expires ", time(t.expires_at), "."),
        h("label", { for: "fresh-token" }, "Token"),
        h("div", { class: "copyrow" }, h("textarea", { id: "fresh-token", readOnly: true, rows: 3, spellcheck: "false" }, t.token), copyButton(t.token, "token")),
        h("label", { for: "fresh-kubo" }, "Add this service to Kubo (IPFS Desktop: the same URL and token under Settings → Pinning services)"),
        h("div", { class: "copyrow" }, h("textarea", { id: "fresh-kubo", readOnly: true, rows: 3, spellcheck: "false" }, line), copyButton(line, "Kubo command")),
        h("div", { class: "actions" }, done),
      ),
    );
    document.getElementById("fresh-title").focus();
  }

  const summary = h("p", { class: "summary", role: "status" });
  const list = h("div", { class: "list", "aria-busy": "true" }, h("p", { class: "muted loading" }, "Loading tokens…"));
  fill(
    view,
    h("div", { class: "head" }, h("h1", { tabindex: "-1" }, "Device tokens")),
    form,
    created,
    h("section", { class: "card", "aria-labelledby": "tokens-title" }, h("h2", { id: "tokens-title" }, "Your tokens"), summary, list),
  );

  async function load() {
    try {
      const data = await call("GET", "/tokens");
      if (!alive) return;
      list.removeAttribute("aria-busy");
      fill(summary, plural(data.count, "token"));
      fill(list, data.results.length ? table(data.results) : h("p", { class: "empty" }, "No tokens."));
    } catch (err) {
      if (!alive) return;
      list.removeAttribute("aria-busy");
      fill(list, notice("error", err.message));
    }
  }

  function table(tokens) {
    const own = session.get()?.id;
    return h(
      "table",
      { class: "tokens" },
      h("caption", { class: "visually-hidden" }, "Your tokens, newest first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Label", "Created", "Expires", "Last used"].map((c) => h("th", { scope: "col" }, c)),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
        ),
      ),
      h(
        "tbody",
        {},
        tokens.map((t) => {
          const name = t.label ?? "Unlabelled token";
          return h(
            "tr",
            { dataset: { tokenId: t.id } },
            h(
              "td",
              { "data-label": "Label", class: "name" },
              h("span", { class: t.label === undefined ? "muted" : undefined }, name),
              t.id === own && h("span", { class: "tag" }, "this console"),
            ),
            h("td", { "data-label": "Created" }, time(t.created)),
            h("td", { "data-label": "Expires" }, time(t.expires_at)),
            h("td", { "data-label": "Last used" }, time(t.last_used)),
            h(
              "td",
              { class: "actions" },
              h("button", { type: "button", class: "danger quiet", "aria-label": `Revoke ${name}`, onclick: () => revoke(t, name, t.id === own) }, "Revoke"),
            ),
          );
        }),
      ),
    );
  }

  async function revoke(t, name, own) {
    const ok = await confirmDialog({
      title: "Revoke this token?",
      text: own
        ? "This is the token of this console: revoking it signs you out here."
        : `“${name}” stops working at once here, and everywhere within about a minute. Devices using it need a new token.`,
      action: "Revoke token",
    });
    if (!ok) return;
    try {
      await call("DELETE", `/tokens/${encodeURIComponent(t.id)}`);
      toast(`Revoked ${name}`);
      if (own) {
        endSession("This console's token is revoked: you are signed out.");
        return;
      }
    } catch (err) {
      toast(err.message);
    }
    if (alive) {
      await load();
      label.focus();
    }
  }

  load();
  return () => {
    alive = false;
  };
}
