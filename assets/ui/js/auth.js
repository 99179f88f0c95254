// Credentials of the Control UI.
//
// - The gateway's shared token arrives once in the URL fragment that
//   `pincer dashboard` opens (#token=…). Fragments are never sent to a
//   server, so it is in no request line, log or Referer. It is taken out
//   of the address bar (history.replaceState) before anything else runs,
//   and kept in sessionStorage: this tab and this origin only, gone when
//   the tab closes. It is never written to localStorage.
// - After the first connect the gateway pairs this browser's device
//   identity and issues a device token (hello-ok.auth.deviceToken). That
//   one is kept in localStorage, keyed by device id and role, and used for
//   later visits: it only works together with a signature of the
//   non-extractable private key in IndexedDB, so it is useless elsewhere.

const SHARED_KEY = "pincer.gateway.token";
const DEVICE_KEY = "pincer.deviceAuth.v1";

// takeTokenFromURL moves a #token=… (and a stray ?token=…, which is
// ignored: a token in a query string has already been sent to the server)
// out of the address bar. It returns true when a fragment token was stored.
export function takeTokenFromURL() {
  const frag = new URLSearchParams(location.hash.replace(/^#/, ""));
  const query = new URLSearchParams(location.search);
  const fromFragment = frag.get("token");
  const touched = frag.has("token") || query.has("token");
  if (!touched) return false;
  frag.delete("token");
  query.delete("token");
  const q = query.toString();
  const f = frag.toString();
  history.replaceState(history.state, "", location.pathname + (q ? "?" + q : "") + (f ? "#" + f : ""));
  if (fromFragment && fromFragment.trim()) {
    setSharedToken(fromFragment.trim());
    return true;
  }
  return false;
}

export function sharedToken() {
  try {
    return sessionStorage.getItem(SHARED_KEY) || "";
  } catch {
    return "";
  }
}

export function setSharedToken(t) {
  try {
    if (t) sessionStorage.setItem(SHARED_KEY, t);
    else sessionStorage.removeItem(SHARED_KEY);
  } catch {
    // storage disabled: the token lives for this page only
  }
}

function readDeviceAuth() {
  try {
    const v = JSON.parse(localStorage.getItem(DEVICE_KEY) || "null");
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

// deviceToken returns the stored {token, scopes} for deviceId and role.
export function deviceToken(deviceId, role) {
  const e = readDeviceAuth()[deviceId + "|" + role];
  return e && e.token ? e : null;
}

export function storeDeviceToken(deviceId, role, token, scopes) {
  const all = readDeviceAuth();
  all[deviceId + "|" + role] = { token, scopes: scopes || [], updatedAtMs: Date.now() };
  try {
    localStorage.setItem(DEVICE_KEY, JSON.stringify(all));
  } catch {
    // no persistent storage: the next visit needs the shared token again
  }
}

export function forgetDeviceToken(deviceId, role) {
  const all = readDeviceAuth();
  delete all[deviceId + "|" + role];
  try {
    localStorage.setItem(DEVICE_KEY, JSON.stringify(all));
  } catch {
    // ignore
  }
}

// signOut forgets every credential this browser holds for the gateway
// (the device key stays; a new sign-in pairs it again).
export function signOut() {
  setSharedToken("");
  try {
    localStorage.removeItem(DEVICE_KEY);
  } catch {
    // ignore
  }
}
