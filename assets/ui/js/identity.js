// The browser's device identity: an Ed25519 key pair made with WebCrypto.
// The private key is created non-extractable and kept (as a CryptoKey, by
// structured clone) in IndexedDB, so script can sign with it but never read
// it; a stolen device token is useless without it.

const DB_NAME = "pincer-control-ui";
const STORE = "identity";
const KEY = "device-v1";

function openDB() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function idb(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export function base64url(bytes) {
  let s = "";
  const b = new Uint8Array(bytes);
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

// normalizeMeta trims and lower-cases ASCII A–Z only (spec §3.2).
export function normalizeMeta(s) {
  return String(s ?? "").trim().replace(/[A-Z]/g, (c) => c.toLowerCase());
}

// payloadV3 is the exact string a v3 device proof signs (spec §3.2).
export function payloadV3(f) {
  return [
    "v3", f.deviceId, f.clientId, f.clientMode, f.role, (f.scopes || []).join(","), String(f.signedAt),
    f.token || "", f.nonce, normalizeMeta(f.platform), normalizeMeta(f.deviceFamily),
  ].join("|");
}

export class IdentityError extends Error {}

let cached = null;

// loadIdentity returns {deviceId, publicKey (raw, base64url), sign(payload)}:
// the stored identity, or a new one.
export async function loadIdentity() {
  if (cached) return cached;
  if (!globalThis.isSecureContext || !crypto?.subtle) {
    throw new IdentityError("This page is not a secure context, so the browser cannot hold a device identity. " +
      "Open the Control UI at http://127.0.0.1 or localhost, or over HTTPS.");
  }
  const db = await openDB();
  let rec = await idb(db, "readonly", (s) => s.get(KEY));
  if (!rec || !rec.privateKey || !rec.publicKey) {
    let pair;
    try {
      pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    } catch (e) {
      throw new IdentityError("This browser has no Ed25519 in WebCrypto (" + e.message + "); use a current Chrome, Edge, Firefox or Safari.");
    }
    const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
    rec = {
      privateKey: pair.privateKey,
      publicKey: base64url(raw),
      deviceId: hex(await crypto.subtle.digest("SHA-256", raw)),
      createdAtMs: Date.now(),
    };
    await idb(db, "readwrite", (s) => s.put(rec, KEY));
  }
  db.close();
  const key = rec.privateKey;
  cached = {
    deviceId: rec.deviceId,
    publicKey: rec.publicKey,
    async sign(payload) {
      const sig = await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(payload));
      return base64url(sig);
    },
  };
  return cached;
}
