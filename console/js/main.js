// Boot, sign-in and sign-out, and the hash router (#/pins, #/pins/{id}, #/tokens, #/usage).
import { ApiError, call, consoleLabel, session, whenSessionEnds } from "./api.js";
import { fill, h, notice, time } from "./dom.js";
import { renderPins } from "./pins.js";
import { renderDetail } from "./detail.js";
import { renderTokens } from "./tokens.js";
import { detectFeatures, features, renderUsage } from "./usage.js";

/** The console's own token lives this long: a working day. Sign-out revokes it sooner. */
const SESSION_SECONDS = 8 * 3600;

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let cleanup = null;

function leaveView() {
  if (cleanup) cleanup();
  cleanup = null;
}

function route() {
  leaveView();
  const s = session.get();
  if (!s) return showSignIn();
  nav.hidden = false;
  who.hidden = false;
  fill(document.getElementById("who-name"), h("span", { class: "muted" }, "Signed in as "), s.user);
  nav.querySelector('[data-view="usage"]').hidden = !features.usage;

  const hash = location.hash.replace(/^#\/?/, "");
  const [section, id] = hash.split("/");
  let name = "pins";
  if (section === "pins" && id) {
    name = "pins";
    cleanup = renderDetail(view, decodeURIComponent(id));
  } else if (section === "tokens") {
    name = "tokens";
    cleanup = renderTokens(view);
  } else if (section === "usage" && features.usage) {
    name = "usage";
    cleanup = renderUsage(view);
  } else {
    cleanup = renderPins(view);
  }
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function showSignIn(message) {
  nav.hidden = true;
  who.hidden = true;
  document.title = "Sign in · Pinning console";
  const user = h("input", {
    id: "signin-user",
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
  });
  const password = h("input", {
    id: "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const status = h("div", { class: "status-slot" });
  if (message) status.append(message);
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title", method: "post", novalidate: true },
    h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in"),
    h(
      "p",
      { class: "muted" },
      "Your user name and password go only to this service, which gives this tab a token of its own for ",
      `${SESSION_SECONDS / 3600} hours. Signing out revokes it.`,
    ),
    h("label", { for: "signin-user" }, "User name"),
    user,
    h("label", { for: "signin-password" }, "Password"),
    password,
    status,
    button,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!user.value || !password.value) {
      fill(status, notice("error", "Enter your user name and password."));
      (user.value ? password : user).focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Signing in…";
    fill(status);
    try {
      const issued = await call("POST", "/token", {
        auth: { basic: [user.value, password.value] },
        body: { label: consoleLabel(), expires_in: SESSION_SECONDS },
      });
      session.set({ token: issued.token, id: issued.id, user: user.value, expires_at: issued.expires_at });
      password.value = "";
      await detectFeatures();
      if (!location.hash || location.hash === "#/") {
        location.hash = "#/pins"; // hashchange renders it
      } else {
        route();
        focusView();
      }
    } catch (err) {
      button.disabled = false;
      button.textContent = "Sign in";
      fill(status, notice("error", err instanceof ApiError ? err.message : "Signing in failed."));
      if (err.kind === "auth") {
        password.select();
        password.focus();
      }
    }
  });
  fill(view, form);
  if (!message) user.focus();
}

async function signOut() {
  const s = session.get();
  leaveView();
  let message = notice("success", "Signed out. This tab's token is revoked.");
  if (s) {
    try {
      await call("DELETE", `/tokens/${encodeURIComponent(s.id)}`);
    } catch (err) {
      if (err.kind !== "auth") {
        message = notice(
          "error",
          "Signed out here, but the service could not be told (",
          err.message,
          "). This tab's token stays valid until ",
          time(s.expires_at),
          "; revoke it under Device tokens from another session.",
        );
      }
    }
  }
  session.clear();
  history.replaceState(null, "", location.pathname);
  showSignIn(message);
  document.getElementById("signin-title").focus();
}

/** Moves focus to the new view's heading, so keyboard and screen-reader users land on it. */
export function focusView() {
  const heading = view.querySelector("h1");
  if (heading) heading.focus({ preventScroll: false });
}

whenSessionEnds((why) => {
  leaveView();
  showSignIn(notice("error", why));
});

document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", () => {
  route();
  focusView();
});

(async () => {
  if (session.get()) await detectFeatures();
  route();
})();
