// The Control UI shell: takes the token out of the address bar first, then
// builds the layout, routes between pages (History API; the gateway serves
// index.html for every app path) and keeps the pages in step with the
// connection: every hello (a new connection after a restart) and every seq
// gap makes the visible page refetch.

import { takeTokenFromURL, setSharedToken } from "./auth.js";
import { Gateway } from "./gateway.js";
import { h, replace, toast } from "./dom.js";
import overview from "./pages/overview.js";
import chat from "./pages/chat.js";
import devices from "./pages/devices.js";
import channels from "./pages/channels.js";
import approvals from "./pages/approvals.js";
import logs from "./pages/logs.js";
import configPage from "./pages/config.js";

// Before anything else: the token must not stay in the URL (history,
// bookmarks, screen shares).
takeTokenFromURL();

const PAGES = [overview, chat, devices, channels, approvals, logs, configPage];
const gw = new Gateway();
globalThis.pincerGateway = gw; // for debugging from the console (and tests)

const app = document.getElementById("app");
const statusPill = h("span", { class: "pill", id: "conn-state", text: "connecting" });
const navLinks = new Map();
const badges = new Map();
const nav = h("nav", { class: "nav", "aria-label": "Pages" });
for (const p of PAGES) {
  const badge = h("span", { class: "badge", hidden: true });
  badges.set(p.path, badge);
  const a = h("a", { href: p.path, class: "nav-link", data: { page: p.id } }, h("span", { text: p.title }), badge);
  a.addEventListener("click", (ev) => {
    if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
    ev.preventDefault();
    navigate(p.path);
    document.body.classList.remove("nav-open");
  });
  navLinks.set(p.path, a);
  nav.append(a);
}
const menuBtn = h("button", { type: "button", class: "btn btn-icon menu-btn", "aria-label": "Menu", text: "☰" });
menuBtn.addEventListener("click", () => document.body.classList.toggle("nav-open"));
const banner = h("div", { class: "banner", id: "banner", role: "status", hidden: true });
const main = h("main", { class: "main", id: "main" });
const header = h("header", { class: "top" }, menuBtn, h("a", { href: "/", class: "brand", text: "Pincer" }), h("span", { class: "grow" }), statusPill);
header.querySelector(".brand").addEventListener("click", (ev) => {
  ev.preventDefault();
  navigate("/");
});
replace(app, header, h("div", { class: "body" }, nav, h("div", { class: "content" }, banner, main)));

let current = null; // {page, inst}

function pageFor(pathname) {
  if (pathname === "/" || pathname === "") return overview;
  for (const p of PAGES) {
    if (pathname === p.path || pathname.startsWith(p.path + "/")) return p;
  }
  return null;
}

function navigate(to, replaceHistory = false) {
  const u = new URL(to, location.origin);
  if (u.origin !== location.origin) return;
  const target = u.pathname + u.search + u.hash;
  if (target !== location.pathname + location.search + location.hash) {
    if (replaceHistory) history.replaceState(null, "", target);
    else history.pushState(null, "", target);
  }
  render();
}

const ctx = {
  gw,
  navigate,
  setBadge(path, n) {
    const b = badges.get(path);
    if (!b) return;
    b.hidden = !n;
    b.textContent = n ? String(n) : "";
  },
};

function render() {
  if (gw.state === "signin" || (gw.state === "fatal" && !gw.hello)) {
    renderGate();
    return;
  }
  const page = pageFor(location.pathname);
  if (current && current.page === page && current.key === location.pathname) return;
  if (current) {
    try {
      current.inst.unmount?.();
    } catch (e) {
      console.error(e);
    }
    current = null;
  }
  for (const [path, a] of navLinks) a.classList.toggle("active", page !== null && page.path === path);
  if (!page) {
    replace(main, h("section", { class: "page" }, h("h1", { text: "Not found" }), h("p", null, "There is no page at this address. ", h("a", { href: "/", text: "Go to the overview" }))));
    document.title = "Pincer";
    return;
  }
  document.title = page.title + " · Pincer";
  const el = h("section", { class: ["page", "page-" + page.id], id: "page-" + page.id });
  replace(main, el);
  const inst = page.mount(el, ctx) || {};
  current = { page, inst, key: location.pathname };
  if (gw.connected) inst.refresh?.();
}

function refreshCurrent() {
  if (current && gw.connected) current.inst.refresh?.();
}

// renderGate shows the sign-in form (or why the UI cannot connect).
function renderGate() {
  if (current) {
    try {
      current.inst.unmount?.();
    } catch {
      // ignore
    }
    current = null;
  }
  for (const [, a] of navLinks) a.classList.remove("active");
  document.title = "Sign in · Pincer";
  if (gw.state === "fatal") {
    const retry = h("button", { type: "button", class: "btn btn-primary", text: "Try again" });
    retry.addEventListener("click", () => gw.reconnectNow());
    replace(main, h("section", { class: "page gate" }, h("h1", { text: "Cannot connect" }), h("p", { class: "error", id: "gate-error", text: gw.info }), retry));
    return;
  }
  const input = h("input", { type: "password", id: "token-input", name: "token", autocomplete: "off", spellcheck: "false", placeholder: "Gateway token", required: true });
  const form = h("form", { class: "gate-form", id: "signin-form" },
    h("label", { for: "token-input", text: "Gateway token" }), input,
    h("button", { type: "submit", class: "btn btn-primary", text: "Connect" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    input.value = "";
    if (!t) return;
    setSharedToken(t);
    gw.reconnectNow();
  });
  replace(main, h("section", { class: "page gate" },
    h("h1", { text: "Sign in" }),
    gw.info ? h("p", { class: "error", id: "gate-error", text: gw.info }) : null,
    h("p", null, "Run ", h("code", { text: "pincer dashboard" }), " on the gateway host to open this page signed in, or paste the gateway token (", h("code", { text: "gateway.auth.token" }), ", or the generated token file in the state directory)."),
    form,
    h("p", { class: "muted", text: "The token is kept for this tab only; this browser then gets a device token of its own, bound to a key that never leaves it." })));
  setTimeout(() => input.focus(), 0);
}

function showBanner(kind, text, action) {
  banner.hidden = !text;
  banner.className = "banner banner-" + kind;
  replace(banner, h("span", { text }), action || null);
}

const STATE_LABELS = {
  idle: "starting", connecting: "connecting", connected: "connected", reconnecting: "reconnecting",
  signin: "signed out", pairing: "awaiting approval", fatal: "cannot connect",
};

let lastState = "";
gw.on("state", (state, info) => {
  statusPill.textContent = STATE_LABELS[state] || state;
  statusPill.className = "pill pill-" + state;
  document.body.dataset.conn = state;
  switch (state) {
    case "connected":
      showBanner("ok", "");
      break;
    case "reconnecting": {
      const secs = Math.max(0, Math.round((gw.nextRetryAt - Date.now()) / 1000));
      const now = h("button", { type: "button", class: "btn btn-small", text: "Retry now" });
      now.addEventListener("click", () => gw.kick());
      showBanner("warn", `Reconnecting${info ? " — " + info : ""}${secs ? ` (next try in ${secs}s)` : ""}…`, now);
      break;
    }
    case "pairing":
      showBanner("warn", info || "Waiting for this browser to be approved…");
      break;
    case "connecting":
      showBanner("info", "Connecting…");
      break;
    case "fatal":
      if (gw.hello) showBanner("error", info);
      break;
    default:
      showBanner("info", "");
  }
  const gate = state === "signin" || (state === "fatal" && !gw.hello);
  const wasGate = lastState === "signin" || lastState === "fatal";
  lastState = state;
  if (gate || wasGate) render();
});

gw.on("hello", () => {
  render();
  refreshCurrent();
  refreshBadges();
});

gw.on("gap", (g) => {
  console.warn("event gap", g);
  toast("Missed some live updates; reloaded this page.");
  refreshCurrent();
  refreshBadges();
});

// Badges: pending approvals and pairing requests, kept live.
async function refreshBadges() {
  if (!gw.connected) return;
  try {
    const list = await gw.request("exec.approval.list", {});
    ctx.setBadge("/approvals", Array.isArray(list) ? list.length : 0);
  } catch {
    // no approvals scope or method: no badge
  }
  try {
    const d = await gw.request("device.pair.list", {});
    let n = (d.pending || []).length;
    try {
      const np = await gw.request("node.pair.list", {});
      n += (np.pending || []).length;
    } catch {
      // ignore
    }
    ctx.setBadge("/devices", n);
  } catch {
    // ignore
  }
}
for (const ev of ["exec.approval.requested", "exec.approval.resolved", "device.pair.requested", "device.pair.resolved", "node.pair.requested", "node.pair.resolved"]) {
  gw.on("event:" + ev, () => refreshBadges());
}
gw.on("event:exec.approval.requested", (p) => {
  if (current?.page !== approvals) toast("An exec approval is waiting: " + (p?.request?.command || p?.id || ""), "warn");
});

addEventListener("popstate", () => render());
render();
gw.start();
