// The gateway client: one WebSocket to the host that served this page (never
// a URL taken from the address bar), the v4 handshake with a signed v3
// device proof, request/response correlation, event dispatch, seq-gap
// detection and reconnection with exponential backoff.

import { loadIdentity, payloadV3 } from "./identity.js";
import * as auth from "./auth.js";

export const CLIENT_ID = "openclaw-control-ui";
export const CLIENT_MODE = "webchat";
export const CLIENT_VERSION = "pincer-control-ui";
export const PLATFORM = "web";
export const DEVICE_FAMILY = "Browser"; // pinned at pairing: keep it stable
export const ROLE = "operator";
export const SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals", "operator.pairing"];
export const CAPS = ["tool-events"];
const PROTOCOL = 4;

const HANDSHAKE_TIMEOUT_MS = 15000;
const REQUEST_TIMEOUT_MS = 30000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;

export class RequestError extends Error {
  constructor(e) {
    super((e && e.message) || (e && e.code) || "request failed");
    this.name = "RequestError";
    this.code = (e && e.code) || "UNAVAILABLE";
    this.details = (e && e.details) || {};
    this.retryable = !!(e && e.retryable);
    this.retryAfterMs = e && e.retryAfterMs;
  }
  get detailCode() {
    return this.details && this.details.code;
  }
}

// gatewayURL is the WebSocket URL of the gateway that served this page.
export function gatewayURL() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/";
}

// States: idle, connecting, connected, reconnecting, signin (a credential
// is needed), pairing (waiting for approval), fatal (cannot connect from
// here; a person must act).
export class Gateway {
  constructor() {
    this.state = "idle";
    this.info = "";
    this.hello = null;
    this.helloAt = 0;
    this.identity = null;
    this.ws = null;
    this.gen = 0;
    this.pending = new Map();
    this.listeners = new Map();
    this.lastSeq = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.reqN = 0;
    this.instanceId = crypto.randomUUID();
    this.lastFrameAt = 0;
    this.nextRetryAt = 0;
    setInterval(() => this.watchdog(), 5000);
    addEventListener("online", () => this.kick());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.kick();
    });
  }

  // on subscribes to "state", "hello", "gap", "event" or "event:<name>";
  // it returns the unsubscribe function.
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name)?.delete(fn);
  }

  emit(name, ...args) {
    for (const fn of [...(this.listeners.get(name) || [])]) {
      try {
        fn(...args);
      } catch (e) {
        console.error("listener", name, e);
      }
    }
  }

  setState(state, info = "") {
    this.state = state;
    this.info = info;
    this.emit("state", state, info);
  }

  get connected() {
    return this.state === "connected";
  }

  hasMethod(m) {
    return !!this.hello?.features?.methods?.includes(m);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  // reconnectNow drops the current socket (if any) and connects at once:
  // after a sign-in, or when a person presses "retry".
  reconnectNow() {
    this.stopped = false;
    this.attempt = 0;
    clearTimeout(this.timer);
    if (this.ws) {
      this.gen++;
      try {
        this.ws.close(1000, "reconnect");
      } catch {
        // ignore
      }
      this.ws = null;
      this.failPending("reconnecting");
    }
    this.connect();
  }

  // kick retries at once while waiting out a backoff.
  kick() {
    if (!this.stopped && this.state === "reconnecting" && !this.ws) {
      clearTimeout(this.timer);
      this.connect();
    }
  }

  signOut() {
    auth.signOut();
    this.gen++;
    clearTimeout(this.timer);
    if (this.ws) {
      try {
        this.ws.close(1000, "sign out");
      } catch {
        // ignore
      }
    }
    this.ws = null;
    this.hello = null;
    this.failPending("signed out");
    this.setState("signin", "");
  }

  async connect() {
    clearTimeout(this.timer);
    if (this.ws) return;
    try {
      this.identity = await loadIdentity();
    } catch (e) {
      this.setState("fatal", e.message);
      return;
    }
    const shared = auth.sharedToken();
    const dev = auth.deviceToken(this.identity.deviceId, ROLE);
    if (!shared && !dev) {
      this.setState("signin", "");
      return;
    }
    if (this.state !== "reconnecting" && this.state !== "pairing") this.setState("connecting", "");
    const gen = ++this.gen;
    let ws;
    try {
      ws = new WebSocket(gatewayURL());
    } catch (e) {
      this.scheduleReconnect("cannot open the WebSocket: " + e.message);
      return;
    }
    this.ws = ws;
    const hs = { done: false, usedDevice: false, intent: "backoff", message: "", connectId: "" };
    const hsTimer = setTimeout(() => {
      if (!hs.done) ws.close(4000, "handshake timeout");
    }, HANDSHAKE_TIMEOUT_MS);
    ws.onmessage = async (ev) => {
      if (gen !== this.gen) return;
      this.lastFrameAt = Date.now();
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (hs.done) {
        this.dispatch(f);
        return;
      }
      if (f.type === "event" && f.event === "connect.challenge") {
        const ch = f.payload || {};
        if (!ch.nonce || !Number.isSafeInteger(ch.ts) || ch.ts < 0) {
          ws.close(1002, "bad challenge");
          return;
        }
        try {
          await this.sendConnect(ws, ch, shared, dev, hs);
        } catch (e) {
          hs.intent = "fatal";
          hs.message = "signing the connect failed: " + e.message;
          ws.close(1000, "sign failed");
        }
      } else if (f.type === "res" && f.id === hs.connectId) {
        if (f.ok) {
          hs.done = true;
          clearTimeout(hsTimer);
          this.onHello(f.payload);
        } else {
          this.onConnectError(new RequestError(f.error), hs);
        }
      }
    };
    ws.onclose = (ev) => {
      clearTimeout(hsTimer);
      if (gen !== this.gen) return;
      this.ws = null;
      this.failPending("connection closed");
      if (this.stopped) return;
      if (hs.intent === "signin") {
        this.hello = null;
        this.setState("signin", hs.message);
      } else if (hs.intent === "fatal") {
        this.setState("fatal", hs.message);
      } else if (hs.intent === "now") {
        this.connect();
      } else {
        let why = hs.message;
        if (!why && ev.code === 1012) why = "the gateway is restarting";
        else if (!why && ev.reason) why = ev.reason;
        this.scheduleReconnect(why, hs.intent === "pairing", hs.retryAfterMs);
      }
    };
  }

  async sendConnect(ws, ch, shared, dev, hs) {
    const id = this.identity;
    const useDevice = !!dev;
    const authParams = useDevice ? { deviceToken: dev.token } : { token: shared };
    const signToken = useDevice ? dev.token : shared;
    const scopes = useDevice && Array.isArray(dev.scopes) && dev.scopes.length ? dev.scopes : SCOPES;
    const client = {
      id: CLIENT_ID, version: CLIENT_VERSION, platform: PLATFORM, deviceFamily: DEVICE_FAMILY, mode: CLIENT_MODE,
      instanceId: this.instanceId, displayName: "Control UI",
    };
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && tz.length <= 64) client.timeZone = tz;
    const signature = await id.sign(payloadV3({
      deviceId: id.deviceId, clientId: client.id, clientMode: client.mode, role: ROLE, scopes, signedAt: ch.ts,
      token: signToken, nonce: ch.nonce, platform: client.platform, deviceFamily: client.deviceFamily,
    }));
    const params = {
      minProtocol: PROTOCOL, maxProtocol: PROTOCOL, client, role: ROLE, scopes, caps: CAPS, auth: authParams,
      device: { id: id.deviceId, publicKey: id.publicKey, signature, signedAt: ch.ts, nonce: ch.nonce },
      locale: navigator.language || undefined, userAgent: navigator.userAgent || undefined,
    };
    hs.usedDevice = useDevice;
    hs.connectId = "connect:" + crypto.randomUUID();
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "req", id: hs.connectId, method: "connect", params }));
  }

  onHello(hello) {
    this.hello = hello;
    this.helloAt = Date.now();
    this.lastSeq = null;
    this.attempt = 0;
    const a = hello.auth || {};
    if (a.deviceToken && this.identity) {
      auth.storeDeviceToken(this.identity.deviceId, a.role || ROLE, a.deviceToken, a.scopes);
    }
    this.setState("connected", "");
    this.emit("hello", hello);
  }

  onConnectError(err, hs) {
    const code = err.detailCode;
    hs.message = err.message;
    switch (code) {
      case "AUTH_DEVICE_TOKEN_MISMATCH":
      case "AUTH_SCOPE_MISMATCH":
        if (hs.usedDevice) {
          // The device token was revoked or rotated: forget it, and sign in
          // again with the shared token when this tab still has it.
          auth.forgetDeviceToken(this.identity.deviceId, ROLE);
          hs.intent = auth.sharedToken() ? "now" : "signin";
          hs.message = "This browser's device token is no longer valid; sign in with the gateway token.";
        } else {
          hs.intent = "signin";
        }
        break;
      case "AUTH_TOKEN_MISMATCH":
      case "AUTH_TOKEN_MISSING":
      case "AUTH_PASSWORD_MISMATCH":
      case "AUTH_PASSWORD_MISSING":
      case "AUTH_UNAUTHORIZED":
        auth.setSharedToken("");
        hs.intent = "signin";
        break;
      case "AUTH_RATE_LIMITED":
        hs.intent = "backoff";
        hs.retryAfterMs = err.retryAfterMs;
        break;
      case "PAIRING_REQUIRED":
        hs.intent = "pairing";
        hs.message = "This browser is waiting for approval as a device (" + err.message + "). Approve it with `pincer devices approve`.";
        break;
      case "CONTROL_UI_ORIGIN_NOT_ALLOWED":
      case "CONTROL_UI_DEVICE_IDENTITY_REQUIRED":
        hs.intent = "fatal";
        break;
      default:
        if (code && code.startsWith("DEVICE_AUTH_")) hs.intent = "fatal";
        else if (err.code === "INVALID_REQUEST" && !err.retryable) hs.intent = "fatal";
        else hs.intent = "backoff";
    }
  }

  scheduleReconnect(why, pairing = false, minDelay = 0) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.max(minDelay || 0, Math.round(base * (0.8 + Math.random() * 0.4)));
    this.attempt++;
    this.nextRetryAt = Date.now() + delay;
    this.setState(pairing ? "pairing" : "reconnecting", why || "");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  watchdog() {
    if (!this.ws || !this.connected) return;
    const tick = this.hello?.policy?.tickIntervalMs || 30000;
    if (Date.now() - this.lastFrameAt > 2 * tick + 5000) {
      try {
        this.ws.close(4000, "tick timeout");
      } catch {
        // ignore
      }
    }
  }

  failPending(why) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new RequestError({ code: "UNAVAILABLE", message: "not connected (" + why + ")", retryable: true }));
    }
    this.pending.clear();
  }

  dispatch(f) {
    if (f.type === "res") {
      const p = this.pending.get(f.id);
      if (!p) return;
      // Two-phase methods answer "accepted" first; wait for the final one.
      if (f.ok && p.twoPhase && f.payload && f.payload.status === "accepted") return;
      this.pending.delete(f.id);
      clearTimeout(p.timer);
      if (f.ok) p.resolve(f.payload);
      else p.reject(new RequestError(f.error));
      return;
    }
    if (f.type !== "event") return;
    if (typeof f.seq === "number") {
      // seq is per socket and +1 per broadcast; a jump means events were
      // dropped and the pages must refetch (they are never replayed).
      if (this.lastSeq !== null && f.seq > this.lastSeq + 1) {
        this.emit("gap", { expected: this.lastSeq + 1, received: f.seq });
      }
      this.lastSeq = f.seq;
    }
    if (f.event === "shutdown") this.info = "the gateway is restarting";
    this.emit("event", f);
    this.emit("event:" + f.event, f.payload, f);
  }

  // request calls a method; it rejects with a RequestError.
  request(method, params = {}, opts = {}) {
    if (!this.ws || !this.connected || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RequestError({ code: "UNAVAILABLE", message: "not connected to the gateway", retryable: true }));
    }
    const id = "ui:" + ++this.reqN;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestError({ code: "UNAVAILABLE", message: method + " timed out", retryable: true }));
      }, opts.timeoutMs || REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer, twoPhase: !!opts.twoPhase });
      this.ws.send(JSON.stringify({ type: "req", id, method, params }));
    });
  }

  uptimeMs() {
    if (!this.hello) return 0;
    return (this.hello.snapshot?.uptimeMs || 0) + (Date.now() - this.helloAt);
  }
}
