// Building the page. Every piece of text goes in through textContent or an attribute, never as
// markup, so a pin named `<img src=x onerror=alert(1)>` shows those characters and runs nothing.

/** h("button", {type: "button", onclick}, "Text", child, …): an element with properties and children. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let toastTimer;
/** A short message for everyone, screen readers included (the toast is a polite live region). */
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("shown"), 4000);
}

/** A button that copies `text`, named for what it copies. */
export function copyButton(text, what) {
  return h(
    "button",
    {
      type: "button",
      class: "copy",
      "aria-label": `Copy ${what}`,
      title: `Copy ${what}`,
      onclick: () => copy(text, what),
    },
    "Copy",
  );
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    toast(`Copied ${what.split(" ")[0]} to the clipboard`);
  } catch {
    toast("Copying was refused by the browser: select the text and copy it yourself");
  }
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A <time> showing a local date, with the exact UTC instant on hover. */
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "never");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", {}, iso);
  return h("time", { datetime: iso, title: iso }, dateFormat.format(d));
}

export function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/** A status as a badge: the word itself is the text, the colour only repeats it. */
export function statusBadge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

/** Asks for confirmation in the page's modal dialog; resolves true when confirmed. */
export function confirmDialog({ title, text, action }) {
  const dialog = document.getElementById("confirm");
  fill(document.getElementById("confirm-title"), title);
  fill(document.getElementById("confirm-text"), text);
  const ok = document.getElementById("confirm-ok");
  const cancel = document.getElementById("confirm-cancel");
  ok.textContent = action;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const done = (answer) => {
      ok.onclick = cancel.onclick = dialog.oncancel = null;
      dialog.close();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    };
    ok.onclick = () => done(true);
    cancel.onclick = () => done(false);
    dialog.oncancel = (e) => {
      e.preventDefault();
      done(false);
    };
    dialog.showModal();
    cancel.focus();
  });
}

/** A message block: kind is "error", "info" or "success". Errors are announced at once. */
export function notice(kind, ...children) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}
