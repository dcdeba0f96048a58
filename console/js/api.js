// The console is a client of the service's own API, on the same origin, and nothing more.

const KEY = "pinning-console.session";

/** Why a request failed, in words a person can act on. */
export class ApiError extends Error {
  constructor(kind, message, { status, reason, retryAfter } = {}) {
    super(message);
    this.kind = kind; // "network" | "auth" | "rate" | "notfound" | "http"
    this.status = status;
    this.reason = reason;
    this.retryAfter = retryAfter;
  }
}

/** The signed-in session, kept in sessionStorage only (this tab, gone when it closes). */
export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(KEY));
      return s && typeof s.token === "string" ? s : null;
    } catch {
      return null;
    }
  },
  set(s) {
    sessionStorage.setItem(KEY, JSON.stringify(s));
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

let onSignedOut = () => {};
/** Called when the service refuses the session's token (expired or revoked elsewhere). */
export function whenSessionEnds(fn) {
  onSignedOut = fn;
}

/** Forgets the session here and shows the sign-in with `why`. */
export function endSession(why) {
  session.clear();
  onSignedOut(why);
}

/**
 * One API call. `auth` is "session" (the Bearer token), or {basic: [user, password]}.
 * Returns the parsed JSON body (null when empty), or throws ApiError.
 */
export async function call(method, path, { body, auth = "session", raw, contentType } = {}) {
  const headers = {};
  if (auth === "session") {
    const s = session.get();
    if (!s) throw sessionEnded();
    headers.authorization = `Bearer ${s.token}`;
  } else if (auth && auth.basic) {
    headers.authorization = `Basic ${base64(`${auth.basic[0]}:${auth.basic[1]}`)}`;
  }
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers["content-type"] = contentType;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["content-type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, cache: "no-store", credentials: "omit" });
  } catch {
    throw new ApiError("network", "The service can't be reached. Check your connection and try again.");
  }
  const text = await res.text().catch(() => "");
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) return data;
  const reason = data?.error?.reason;
  const details = data?.error?.details;
  if (res.status === 401) {
    if (auth === "session") {
      endSession("Your session has ended (it expired or was revoked). Sign in again.");
      throw sessionEnded();
    }
    throw new ApiError("auth", "Wrong user name or password.", { status: 401, reason });
  }
  if (res.status === 429) {
    const retryAfter = Number(res.headers.get("retry-after")) || 60;
    throw new ApiError(
      "rate",
      `Too many requests. Wait ${retryAfter} seconds, then try again.`,
      { status: 429, reason, retryAfter },
    );
  }
  if (res.status === 404) {
    throw new ApiError("notfound", details || "Not found.", { status: 404, reason });
  }
  if (res.status >= 500) {
    throw new ApiError(
      "http",
      `The service had a problem (${res.status}${details ? `: ${details}` : ""}). Try again in a moment.`,
      { status: res.status, reason },
    );
  }
  throw new ApiError("http", details || `The request was refused (${res.status}).`, {
    status: res.status,
    reason,
  });
}

function sessionEnded() {
  return new ApiError("auth", "Your session has ended. Sign in again.", { status: 401 });
}

/** Base64 of the UTF-8 bytes, as HTTP Basic expects for non-ASCII passwords. */
function base64(text) {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** "Web console (Chrome on Linux)": the label of the console's own token in the token list. */
export function consoleLabel() {
  const ua = navigator.userAgent;
  const browser =
    [
      [/Edg\//, "Edge"],
      [/OPR\//, "Opera"],
      [/Firefox\//, "Firefox"],
      [/Chrom(e|ium)\//, "Chrome"],
      [/Safari\//, "Safari"],
    ].find(([re]) => re.test(ua))?.[1] ?? "a browser";
  const os =
    [
      [/Android/, "Android"],
      [/iPhone|iPad/, "iOS"],
      [/Windows/, "Windows"],
      [/Mac OS X/, "macOS"],
      [/CrOS/, "ChromeOS"],
      [/Linux/, "Linux"],
    ].find(([re]) => re.test(ua))?.[1];
  return `Web console (${browser}${os ? ` on ${os}` : ""})`;
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}
