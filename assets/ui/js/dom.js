// Building DOM without HTML strings: every text goes through text nodes, so
// nothing the gateway or a model sends can become markup. The app never
// assigns innerHTML (a test in core/controlui checks the sources).

const SAFE_URL = /^(https?:|mailto:|data:image\/(png|jpeg|gif|webp);base64,|blob:|\/(?!\/))/i;

// safeURL returns u when it is http(s), mailto, a same-origin path, a
// base64 image data URL or a blob URL; otherwise "".
export function safeURL(u) {
  const s = String(u ?? "").trim();
  return SAFE_URL.test(s) ? s : "";
}

// h creates an element. attrs: class, text, on: {event: fn}, data: {k: v},
// and plain attributes (href/src are checked with safeURL; inline styles
// and on* attributes are refused). Children: nodes, strings, arrays; null,
// undefined and false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : v;
      else if (k === "text") el.textContent = String(v);
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k === "data") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      else if (k === "style" || k.startsWith("on")) throw new Error("h: refusing attribute " + k);
      else if (k === "href" || k === "src") {
        const u = safeURL(v);
        if (u) el.setAttribute(k, u);
      } else if (k === "value") el.value = v;
      else if (k === "checked" || k === "disabled" || k === "selected" || k === "hidden" || k === "multiple") el[k] = !!v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// clear removes every child.
export function clear(el) {
  el.replaceChildren();
  return el;
}

// replace sets el's children.
export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms === "") return "—";
  const d = new Date(typeof ms === "string" ? ms : Number(ms));
  if (isNaN(d)) return "—";
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

export function fmtAgo(ms) {
  if (!ms) return "—";
  const s = Math.round((Date.now() - Number(ms)) / 1000);
  if (s < 0) return "in " + fmtDuration(-s * 1000);
  return fmtDuration(s * 1000) + " ago";
}

export function fmtDuration(ms) {
  let s = Math.max(0, Math.floor(Number(ms) / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const mm = Math.floor(s / 60);
  s -= mm * 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${s}s`;
  return `${s}s`;
}

export function shortId(id, n = 8) {
  const s = String(id ?? "");
  return s.length > n + 2 ? s.slice(0, n) + "…" : s;
}

// errorText words a request error for a person.
export function errorText(err) {
  if (!err) return "";
  if (typeof err === "string") return err;
  return err.message || String(err);
}

// button is a small helper for action buttons that disable themselves while
// their async handler runs and show its error next to them.
export function button(label, onClick, opts = {}) {
  const b = h("button", { type: "button", class: opts.class || "btn", title: opts.title, data: opts.data });
  b.textContent = label;
  b.addEventListener("click", async (ev) => {
    ev.preventDefault();
    if (b.disabled) return;
    b.disabled = true;
    try {
      await onClick(ev);
    } catch (e) {
      (opts.onError || defaultError)(e);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

let toastHost = null;

export function toast(msg, kind = "info") {
  if (!toastHost) {
    toastHost = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastHost);
  }
  const t = h("div", { class: ["toast", "toast-" + kind], text: msg });
  toastHost.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

function defaultError(e) {
  toast(errorText(e), "error");
}

// muted is a muted placeholder line.
export function muted(text) {
  return h("p", { class: "muted", text });
}
