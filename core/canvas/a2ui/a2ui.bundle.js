// Pincer's A2UI renderer: draws A2UI v0.8 server-to-client messages
// (surfaceUpdate, dataModelUpdate, beginRendering, deleteSurface) as DOM and
// reports user actions. Plain ES module, no dependencies.
//
// Supported: the whole v0.8 standard catalog — Text (usageHint h1–h5,
// caption, body; plain text, no Markdown), Image (fit, usageHint), Icon
// (named glyphs), Video, AudioPlayer, Row/Column (distribution, alignment),
// List (direction, alignment), Card, Tabs, Divider, Modal, Button (primary,
// action with context), CheckBox, TextField (shortText, longText, number,
// date, obscured; validationRegexp), DateTimeInput, MultipleChoice and
// Slider. Bound values are {literalString|literalNumber|literalBoolean|
// literalArray} and/or {path}; a literal next to a path initialises the data
// model there. Children are {explicitList:[ids]} or {template:{componentId,
// dataBinding}} over an array, a map or a string holding JSON; inside a
// template a relative path resolves against the item, and an absolute one
// against the item first, then the root. Inputs write their value to the
// data model path they are bound to; what reads that path updates at once.
// A surface renders from its beginRendering on; beginRendering.styles
// {primaryColor, font} theme it. Component ids and types are exposed as
// data-a2ui-id / data-a2ui-type attributes.

const MAX_DEPTH = 64;

const ICONS = {
  accountCircle: "👤", add: "+", arrowBack: "←", arrowForward: "→", attachFile: "📎", calendarToday: "📅",
  call: "📞", camera: "📷", check: "✓", close: "✕", delete: "🗑", download: "⬇", edit: "✎", event: "📅",
  error: "⚠", favorite: "♥", favoriteOff: "♡", folder: "📁", help: "?", home: "⌂", info: "ℹ",
  locationOn: "📍", lock: "🔒", lockOpen: "🔓", mail: "✉", menu: "☰", moreVert: "⋮", moreHoriz: "⋯",
  notificationsOff: "🔕", notifications: "🔔", payment: "💳", person: "👤", phone: "📱", photo: "🖼",
  print: "🖨", refresh: "⟳", search: "🔍", send: "➤", settings: "⚙", share: "⇪", shoppingCart: "🛒",
  star: "★", starHalf: "⯪", starOff: "☆", upload: "⬆", visibility: "👁", visibilityOff: "◌", warning: "⚠",
};

const JUSTIFY = {
  start: "flex-start", center: "center", end: "flex-end",
  spaceBetween: "space-between", spaceAround: "space-around", spaceEvenly: "space-evenly",
};
const ALIGN = { start: "flex-start", center: "center", end: "flex-end", stretch: "stretch" };

/** Splits a data path (JSON Pointer; the leading "/" is optional). */
export function pointer(path) {
  const p = String(path ?? "").trim().replace(/^\/+/, "");
  if (p === "") return [];
  return p.split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function joinPath(base, tokens) {
  return "/" + [...pointer(base), ...tokens].map((t) => String(t).replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
}

/** Reads a path; undefined when absent. */
export function getPath(data, path) {
  let cur = data;
  for (const tok of pointer(path)) {
    if (cur == null) return undefined;
    if (typeof cur === "string") cur = parseJSONish(cur);
    if (Array.isArray(cur)) cur = cur[Number(tok)];
    else if (typeof cur === "object") cur = Object.prototype.hasOwnProperty.call(cur, tok) ? cur[tok] : undefined;
    else return undefined;
  }
  return cur;
}

/** Writes a path, creating objects on the way. */
export function setPath(data, path, value) {
  const toks = pointer(path);
  if (toks.length === 0) return;
  let cur = data;
  for (let i = 0; i < toks.length - 1; i++) {
    let next = Array.isArray(cur) ? cur[Number(toks[i])] : cur[toks[i]];
    if (next === null || typeof next !== "object") {
      next = {};
      if (Array.isArray(cur)) cur[Number(toks[i])] = next;
      else cur[toks[i]] = next;
    }
    cur = next;
  }
  const last = toks[toks.length - 1];
  if (Array.isArray(cur)) cur[Number(last)] = value;
  else cur[last] = value;
}

function parseJSONish(s) {
  const t = s.trim();
  if (t.startsWith("[") || t.startsWith("{")) {
    try { return JSON.parse(t); } catch { /* a plain string */ }
  }
  return s;
}

/** Turns dataModelUpdate contents into an object. */
export function contentsToObject(entries) {
  const out = {};
  for (const e of Array.isArray(entries) ? entries : []) {
    if (!e || typeof e.key !== "string") continue;
    if ("valueString" in e) out[e.key] = e.valueString;
    else if ("valueNumber" in e) out[e.key] = e.valueNumber;
    else if ("valueBoolean" in e) out[e.key] = e.valueBoolean;
    else if ("valueMap" in e) out[e.key] = contentsToObject(e.valueMap);
  }
  return out;
}

function literalOf(bv) {
  for (const k of ["literalString", "literalNumber", "literalBoolean", "literalArray"]) {
    if (bv && Object.prototype.hasOwnProperty.call(bv, k)) return bv[k];
  }
  return undefined;
}

function text(v) {
  if (v === undefined || v === null) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function safeURL(u, kinds) {
  if (typeof u !== "string" || u === "") return "";
  try {
    const url = new URL(u, document.baseURI);
    if (url.protocol === "http:" || url.protocol === "https:" || url.protocol === "blob:") return url.href;
    if (url.protocol === "data:" && kinds.some((k) => u.slice(5).startsWith(k + "/"))) return u;
  } catch { /* refused */ }
  return "";
}

function el(tag, cls, attrs) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const [k, v] of Object.entries(attrs ?? {})) e.setAttribute(k, v);
  return e;
}

/** A2UIRenderer renders surfaces into a container element. */
export class A2UIRenderer {
  /**
   * @param {HTMLElement} root where surfaces go
   * @param {{onAction?: (action: object) => void}} [opts] onAction gets
   *   {name, surfaceId, sourceComponentId, timestamp, context}
   */
  constructor(root, opts = {}) {
    this.root = root;
    this.onAction = opts.onAction ?? (() => {});
    this.surfaces = new Map();
    this.ui = new Map(); // per rendered component: selected tab, open modal
    this.applied = 0;
  }

  /** Replaces every surface with a gateway snapshot {surfaces:[…]}. */
  reset(snapshot) {
    for (const s of this.surfaces.values()) s.el?.remove();
    this.surfaces.clear();
    for (const ss of snapshot?.surfaces ?? []) {
      const s = this.#surface(ss.surfaceId);
      for (const c of ss.components ?? []) if (c && c.id) s.components.set(c.id, c);
      s.data = ss.dataModel && typeof ss.dataModel === "object" ? ss.dataModel : {};
      s.begin = ss.beginRendering ?? null;
    }
    for (const s of this.surfaces.values()) this.#render(s);
    this.#changed();
  }

  /** Applies one A2UI message. */
  apply(msg) {
    this.applied++;
    if (msg.surfaceUpdate) {
      const m = msg.surfaceUpdate;
      const s = this.#surface(m.surfaceId);
      for (const c of m.components ?? []) if (c && c.id) s.components.set(c.id, c);
      this.#render(s);
    } else if (msg.dataModelUpdate) {
      const m = msg.dataModelUpdate;
      const s = this.#surface(m.surfaceId);
      const value = contentsToObject(m.contents);
      const toks = pointer(m.path);
      if (toks.length === 0) s.data = value;
      else {
        const cur = getPath(s.data, m.path);
        if (cur && typeof cur === "object" && !Array.isArray(cur)) Object.assign(cur, value);
        else setPath(s.data, m.path, value);
      }
      this.#render(s);
    } else if (msg.beginRendering) {
      const m = msg.beginRendering;
      const s = this.#surface(m.surfaceId);
      s.begin = m;
      this.#render(s);
    } else if (msg.deleteSurface) {
      const s = this.surfaces.get(msg.deleteSurface.surfaceId);
      if (s) {
        s.el?.remove();
        this.surfaces.delete(s.id);
      }
    }
    this.#changed();
  }

  #changed() {
    const rendered = [...this.surfaces.values()].filter((s) => s.begin).length;
    this.root.dataset.surfaces = String(rendered);
    this.root.dispatchEvent(new CustomEvent("a2ui-change", { detail: { surfaces: rendered } }));
  }

  #surface(id) {
    let s = this.surfaces.get(id);
    if (!s) {
      s = { id, components: new Map(), data: {}, begin: null, el: null, bindings: [] };
      this.surfaces.set(id, s);
    }
    return s;
  }

  // ---- data binding

  /** The absolute path a bound path means in scope (a template item). */
  #abs(s, path, scope) {
    if (!scope) return joinPath("", pointer(path));
    const p = String(path ?? "");
    if (!p.startsWith("/")) return joinPath(scope, pointer(p));
    const scoped = joinPath(scope, pointer(p));
    return getPath(s.data, scoped) !== undefined ? scoped : joinPath("", pointer(p));
  }

  #resolve(s, bv, scope) {
    if (bv === undefined || bv === null) return undefined;
    if (typeof bv !== "object" || Array.isArray(bv)) return bv;
    if (typeof bv.path === "string" && bv.path !== "") {
      const p = this.#abs(s, bv.path, scope);
      let v = getPath(s.data, p);
      if (v === undefined) {
        const lit = literalOf(bv);
        if (lit !== undefined) {
          setPath(s.data, p, lit);
          v = lit;
        }
      }
      return v;
    }
    return literalOf(bv);
  }

  /** Writes an input's value to its bound path and refreshes readers. */
  #write(s, bv, scope, value) {
    if (!bv || typeof bv.path !== "string" || bv.path === "") return;
    setPath(s.data, this.#abs(s, bv.path, scope), value);
    for (const f of s.bindings) f();
  }

  /** Shows a bound value now and whenever the data model changes locally. */
  #bind(s, f) {
    f();
    s.bindings.push(f);
  }

  // ---- rendering

  #render(s) {
    if (!s.begin) {
      s.el?.remove();
      s.el = null;
      return;
    }
    const focus = this.#saveFocus(s);
    const section = el("section", "a2ui-surface", { "data-surface-id": s.id });
    const styles = s.begin.styles ?? {};
    if (typeof styles.primaryColor === "string" && /^#[0-9a-fA-F]{6}$/.test(styles.primaryColor)) {
      section.style.setProperty("--a2ui-primary", styles.primaryColor);
    }
    if (typeof styles.font === "string" && styles.font) section.style.fontFamily = styles.font;
    s.bindings = [];
    const after = [];
    section.append(this.#component(s, s.begin.root, null, 0, new Set(), after));
    if (s.el && s.el.parentNode === this.root) s.el.replaceWith(section);
    else this.root.append(section);
    s.el = section;
    for (const f of after) f();
    this.#restoreFocus(s, focus);
  }

  #saveFocus(s) {
    const a = document.activeElement;
    if (!s.el || !a || !s.el.contains(a)) return null;
    const host = a.closest("[data-a2ui-id]");
    if (!host) return null;
    return {
      key: host.dataset.a2uiKey ?? host.dataset.a2uiId,
      start: a.selectionStart ?? null, end: a.selectionEnd ?? null,
    };
  }

  #restoreFocus(s, f) {
    if (!f) return;
    for (const host of s.el.querySelectorAll("[data-a2ui-id]")) {
      if ((host.dataset.a2uiKey ?? host.dataset.a2uiId) !== f.key) continue;
      const target = host.matches("input,textarea,button,select") ? host : host.querySelector("input,textarea,button,select");
      if (!target) return;
      target.focus();
      if (f.start !== null && typeof target.setSelectionRange === "function") {
        try { target.setSelectionRange(f.start, f.end); } catch { /* not a text input */ }
      }
      return;
    }
  }

  #component(s, id, scope, depth, stack, after) {
    const entry = s.components.get(id);
    if (!entry) {
      const m = el("span", "a2ui-missing", { "data-a2ui-missing": String(id) });
      m.hidden = true;
      return m;
    }
    if (depth > MAX_DEPTH || stack.has(id)) {
      const e = el("span", "a2ui-error");
      e.textContent = `A2UI: component ${id} refers to itself`;
      return e;
    }
    const comp = entry.component ?? {};
    const type = Object.keys(comp)[0];
    const props = comp[type] ?? {};
    const key = scope ? `${id}@${scope}` : id;
    const ctx = {
      s, id, key, props, scope, after,
      child: (cid) => this.#component(s, cid, scope, depth + 1, stack, after),
      children: (spec) => this.#children(s, spec, scope, depth + 1, stack, after),
      value: (bv) => this.#resolve(s, bv, scope),
      write: (bv, v) => this.#write(s, bv, scope, v),
      bind: (f) => this.#bind(s, f),
    };
    stack.add(id);
    let node;
    try {
      const draw = RENDERERS[type];
      node = draw ? draw.call(this, ctx) : unsupported(type);
    } finally {
      stack.delete(id);
    }
    node.dataset.a2uiId = id;
    node.dataset.a2uiType = type ?? "";
    if (scope) node.dataset.a2uiKey = key;
    node.classList.add("a2ui-c", `a2ui-${String(type).toLowerCase()}`);
    if (typeof entry.weight === "number" && entry.weight > 0) node.style.flex = `${entry.weight} 1 0`;
    return node;
  }

  #children(s, spec, scope, depth, stack, after) {
    if (!spec || typeof spec !== "object") return [];
    if (Array.isArray(spec.explicitList)) {
      return spec.explicitList.map((cid) => this.#component(s, cid, scope, depth, stack, after));
    }
    const t = spec.template;
    if (t && typeof t.componentId === "string" && typeof t.dataBinding === "string") {
      const base = this.#abs(s, t.dataBinding, scope);
      let list = getPath(s.data, base);
      if (typeof list === "string") list = parseJSONish(list);
      if (!list || typeof list !== "object") return [];
      const keys = Array.isArray(list) ? list.map((_, i) => String(i)) : Object.keys(list);
      return keys.map((k) => this.#component(s, t.componentId, joinPath(base, [k]), depth, stack, after));
    }
    return [];
  }

  /** A key for per-component UI state that survives re-renders. */
  uiState(s, key) {
    const k = `${s.id}\u0000${key}`;
    let st = this.ui.get(k);
    if (!st) {
      st = {};
      this.ui.set(k, st);
    }
    return st;
  }

  dispatch(ctx, action) {
    if (!action || typeof action.name !== "string" || action.name === "") return;
    const context = {};
    const entries = Array.isArray(action.context)
      ? action.context
      : Object.entries(action.context ?? {}).map(([key, value]) => ({ key, value }));
    for (const e of entries) {
      if (e && typeof e.key === "string") context[e.key] = ctx.value(e.value);
    }
    this.onAction({
      name: action.name, surfaceId: ctx.s.id, sourceComponentId: ctx.id,
      timestamp: new Date().toISOString(), context,
    });
  }
}

function unsupported(type) {
  const e = el("div", "a2ui-unknown");
  e.textContent = `Unsupported component ${type}`;
  return e;
}

function flex(node, props, column) {
  node.style.display = "flex";
  node.style.flexDirection = column ? "column" : "row";
  if (JUSTIFY[props.distribution]) node.style.justifyContent = JUSTIFY[props.distribution];
  if (ALIGN[props.alignment]) node.style.alignItems = ALIGN[props.alignment];
}

let uid = 0;
const nextID = (p) => `a2ui-${p}-${++uid}`;

const RENDERERS = {
  Text(c) {
    const hint = c.props.usageHint;
    const tag = /^h[1-5]$/.test(hint) ? hint : "p";
    const n = el(tag, hint === "caption" ? "a2ui-caption" : "");
    c.bind(() => { n.textContent = text(c.value(c.props.text)); });
    return n;
  },

  Image(c) {
    const n = el("img", c.props.usageHint ? `a2ui-image-${c.props.usageHint}` : "", { alt: "", loading: "lazy" });
    if (c.props.fit) n.style.objectFit = c.props.fit;
    c.bind(() => {
      const u = safeURL(c.value(c.props.url), ["image"]);
      if (n.getAttribute("src") !== u) u ? n.setAttribute("src", u) : n.removeAttribute("src");
    });
    return n;
  },

  Icon(c) {
    const n = el("span", "", { role: "img" });
    c.bind(() => {
      const name = text(c.value(c.props.name));
      n.textContent = ICONS[name] ?? "•";
      n.setAttribute("aria-label", name);
      n.title = name;
    });
    return n;
  },

  Video(c) {
    const n = el("video", "", { controls: "", preload: "metadata" });
    c.bind(() => { n.src = safeURL(c.value(c.props.url), ["video"]); });
    return n;
  },

  AudioPlayer(c) {
    const n = el("figure");
    const cap = el("figcaption");
    const a = el("audio", "", { controls: "", preload: "metadata" });
    c.bind(() => {
      a.src = safeURL(c.value(c.props.url), ["audio"]);
      cap.textContent = text(c.value(c.props.description));
      cap.hidden = cap.textContent === "";
    });
    n.append(cap, a);
    return n;
  },

  Row(c) {
    const n = el("div");
    flex(n, c.props, false);
    n.append(...c.children(c.props.children));
    return n;
  },

  Column(c) {
    const n = el("div");
    flex(n, c.props, true);
    n.append(...c.children(c.props.children));
    return n;
  },

  List(c) {
    const n = el("div", "", { role: "list" });
    flex(n, c.props, c.props.direction !== "horizontal");
    for (const item of c.children(c.props.children)) {
      item.setAttribute("role", "listitem");
      n.append(item);
    }
    return n;
  },

  Card(c) {
    const n = el("div");
    n.append(c.child(c.props.child));
    return n;
  },

  Divider(c) {
    if (c.props.axis === "vertical") return el("div", "a2ui-divider-vertical", { role: "separator", "aria-orientation": "vertical" });
    return el("hr");
  },

  Tabs(c) {
    const n = el("div");
    const bar = el("div", "a2ui-tabbar", { role: "tablist" });
    const st = this.uiState(c.s, c.key);
    const items = Array.isArray(c.props.tabItems) ? c.props.tabItems : [];
    if (!(st.tab >= 0 && st.tab < items.length)) st.tab = 0;
    const tabs = [];
    const panels = [];
    const select = (i) => {
      st.tab = i;
      tabs.forEach((t, j) => t.setAttribute("aria-selected", String(i === j)));
      panels.forEach((p, j) => { p.hidden = i !== j; });
    };
    items.forEach((item, i) => {
      const tid = nextID("tab");
      const pid = nextID("panel");
      const t = el("button", "a2ui-tab", { type: "button", role: "tab", id: tid, "aria-controls": pid });
      c.bind(() => { t.textContent = text(c.value(item.title)); });
      t.addEventListener("click", () => select(i));
      const p = el("div", "a2ui-tabpanel", { role: "tabpanel", id: pid, "aria-labelledby": tid });
      p.append(c.child(item.child));
      tabs.push(t);
      panels.push(p);
    });
    bar.append(...tabs);
    n.append(bar, ...panels);
    select(st.tab);
    return n;
  },

  Modal(c) {
    const n = el("div");
    const st = this.uiState(c.s, c.key);
    const entry = el("div", "a2ui-modal-entry");
    entry.append(c.child(c.props.entryPointChild));
    const dialog = el("dialog", "a2ui-modal-dialog");
    const close = el("button", "a2ui-modal-close", { type: "button", "aria-label": "Close" });
    close.textContent = "✕";
    const body = el("div", "a2ui-modal-body");
    body.append(c.child(c.props.contentChild));
    dialog.append(close, body);
    const open = () => {
      st.open = true;
      if (!dialog.open) {
        if (typeof dialog.showModal === "function" && dialog.isConnected) dialog.showModal();
        else dialog.setAttribute("open", "");
      }
    };
    entry.addEventListener("click", open);
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => { st.open = false; });
    dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
    n.append(entry, dialog);
    if (st.open) c.after.push(open);
    return n;
  },

  Button(c) {
    const n = el("button", c.props.primary ? "a2ui-primary" : "", { type: "button" });
    n.append(c.child(c.props.child));
    n.addEventListener("click", () => this.dispatch(c, c.props.action));
    return n;
  },

  CheckBox(c) {
    const n = el("label");
    const box = el("input", "", { type: "checkbox" });
    const span = el("span");
    c.bind(() => {
      box.checked = c.value(c.props.value) === true;
      span.textContent = text(c.value(c.props.label));
    });
    box.addEventListener("change", () => c.write(c.props.value, box.checked));
    n.append(box, span);
    return n;
  },

  TextField(c) {
    const n = el("label");
    const span = el("span", "a2ui-label");
    const kind = c.props.textFieldType ?? "shortText";
    let input;
    if (kind === "longText") input = el("textarea", "", { rows: "4" });
    else input = el("input", "", { type: { number: "number", date: "date", obscured: "password" }[kind] ?? "text" });
    let re = null;
    if (typeof c.props.validationRegexp === "string" && c.props.validationRegexp) {
      try { re = new RegExp(`^(?:${c.props.validationRegexp})$`); } catch { re = null; }
    }
    const validate = () => {
      const bad = re !== null && input.value !== "" && !re.test(input.value);
      input.setAttribute("aria-invalid", String(bad));
      n.classList.toggle("a2ui-invalid", bad);
    };
    c.bind(() => {
      span.textContent = text(c.value(c.props.label));
      const v = text(c.value(c.props.text));
      if (input.value !== v) input.value = v;
      validate();
    });
    input.addEventListener("input", () => {
      validate();
      let v = input.value;
      if (kind === "number" && v !== "" && Number.isFinite(Number(v))) v = Number(v);
      c.write(c.props.text, v);
    });
    n.append(span, input);
    return n;
  },

  DateTimeInput(c) {
    const n = el("label");
    const date = c.props.enableDate !== false;
    const time = c.props.enableTime !== false;
    const type = date && time ? "datetime-local" : time ? "time" : "date";
    const input = el("input", "", { type });
    const fmt = (v) => {
      v = text(v);
      if (type === "datetime-local") return v.slice(0, 16);
      if (type === "date") return v.slice(0, 10);
      const m = /T?(\d\d:\d\d)/.exec(v);
      return m ? m[1] : v;
    };
    c.bind(() => {
      const v = fmt(c.value(c.props.value));
      if (input.value !== v) input.value = v;
    });
    input.addEventListener("input", () => c.write(c.props.value, input.value));
    n.append(input);
    return n;
  },

  MultipleChoice(c) {
    const n = el("fieldset");
    const max = Number.isInteger(c.props.maxAllowedSelections) ? c.props.maxAllowedSelections : Infinity;
    let options = c.props.options;
    if (options && !Array.isArray(options)) options = c.value(options);
    options = Array.isArray(options) ? options : [];
    const name = nextID("choice");
    const selected = () => {
      const v = c.value(c.props.selections);
      return Array.isArray(v) ? v.map(String) : typeof v === "string" && v ? [v] : [];
    };
    const boxes = options.map((o) => {
      const label = el("label");
      const box = el("input", "", { type: max === 1 ? "radio" : "checkbox", name, value: text(o.value) });
      const span = el("span");
      c.bind(() => {
        span.textContent = text(c.value(o.label));
        box.checked = selected().includes(text(o.value));
      });
      box.addEventListener("change", () => {
        let sel = selected().filter((v) => v !== box.value);
        if (box.checked) sel.push(box.value);
        if (sel.length > max) sel = sel.slice(sel.length - max);
        c.write(c.props.selections, sel);
      });
      label.append(box, span);
      return label;
    });
    n.append(...boxes);
    return n;
  },

  Slider(c) {
    const n = el("label");
    const input = el("input", "", { type: "range", step: "any" });
    if (typeof c.props.minValue === "number") input.min = String(c.props.minValue);
    if (typeof c.props.maxValue === "number") input.max = String(c.props.maxValue);
    const out = el("output");
    c.bind(() => {
      const v = c.value(c.props.value);
      if (typeof v === "number" && input.value !== String(v)) input.value = String(v);
      out.textContent = input.value;
    });
    input.addEventListener("input", () => c.write(c.props.value, Number(input.value)));
    n.append(input, out);
    return n;
  },
};
