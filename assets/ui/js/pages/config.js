// Config: the JSON5 config file as text (secrets redacted by the gateway),
// saved with config.set against the hash it was loaded at; validation
// problems are listed with their path and marked at their line.

import { h, replace, errorText, toast } from "../dom.js";

const REDACTED = "__OPENCLAW_REDACTED__";
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

function childPath(path, key) {
  if (!PLAIN_KEY.test(key)) return path + "[" + JSON.stringify(key) + "]";
  return path ? path + "." + key : key;
}

// keyLines maps each config path (in the gateway's issue format, e.g.
// gateway.port, agents.list[0].id) to the 1-based line where its key or
// element starts, by scanning the JSON5 text.
export function keyLines(text) {
  const lines = new Map();
  const stack = []; // {type: "obj"|"arr", path, key, index}
  let line = 1;
  let i = 0;
  let pendingKey = null;
  const n = text.length;
  const top = () => stack[stack.length - 1];
  const valueStart = () => {
    const t = top();
    if (t && t.type === "arr") {
      const p = t.path + "[" + t.index + "]";
      if (!lines.has(p)) lines.set(p, line);
      return p;
    }
    if (t && t.type === "obj" && t.key !== null) return childPath(t.path, t.key);
    return "";
  };
  while (i < n) {
    const c = text[i];
    if (c === "\n") {
      line++;
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "/") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      i += 2;
      while (i < n && !(text[i] === "*" && text[i + 1] === "/")) {
        if (text[i] === "\n") line++;
        i++;
      }
      i += 2;
      continue;
    }
    const t = top();
    const expectingKey = t && t.type === "obj" && t.key === null;
    if (c === '"' || c === "'") {
      const startLine = line;
      let s = "";
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === "\\") {
          s += text[i + 1] || "";
          i += 2;
          continue;
        }
        if (text[i] === "\n") line++;
        s += text[i];
        i++;
      }
      i++;
      if (expectingKey) {
        pendingKey = { key: s, line: startLine };
      } else {
        valueStart();
      }
      continue;
    }
    if (c === "{" || c === "[") {
      const path = valueStart();
      stack.push({ type: c === "{" ? "obj" : "arr", path, key: null, index: 0 });
      i++;
      continue;
    }
    if (c === "}" || c === "]") {
      stack.pop();
      i++;
      continue;
    }
    if (c === ":") {
      if (t && t.type === "obj" && pendingKey) {
        t.key = pendingKey.key;
        const p = childPath(t.path, t.key);
        if (!lines.has(p)) lines.set(p, pendingKey.line);
        pendingKey = null;
      }
      i++;
      continue;
    }
    if (c === ",") {
      if (t && t.type === "obj") t.key = null;
      if (t && t.type === "arr") t.index++;
      i++;
      continue;
    }
    // An identifier key or a bare value (number, true, null …).
    let j = i;
    while (j < n && !/[\s,:{}[\]"'/]/.test(text[j])) j++;
    if (j === i) j = i + 1;
    const word = text.slice(i, j);
    if (expectingKey) pendingKey = { key: word, line };
    else valueStart();
    i = j;
  }
  return lines;
}

// lineFor finds the line of path, or of its nearest ancestor present.
export function lineFor(lines, path, message) {
  if (!path) {
    const m = /line (\d+)/.exec(message || "");
    return m ? Number(m[1]) : 0;
  }
  let p = path;
  while (p) {
    if (lines.has(p)) return lines.get(p);
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return 0;
}

export default {
  id: "config",
  path: "/config",
  title: "Config",
  mount(el, { gw }) {
    const meta = h("span", { class: "muted small", id: "config-meta" });
    const dirtyNote = h("span", { class: "warn small", id: "config-dirty", hidden: true, text: "unsaved changes" });
    const saveBtn = h("button", { type: "button", class: "btn btn-primary", id: "config-save", text: "Save" });
    const reloadBtn = h("button", { type: "button", class: "btn", id: "config-reload", text: "Reload" });
    const gutter = h("ol", { class: "gutter", "aria-hidden": "true" });
    const text = h("textarea", { id: "config-text", class: "code-editor", spellcheck: "false", wrap: "off", autocomplete: "off", "aria-label": "Config (JSON5)" });
    const result = h("div", { id: "config-result" });
    const issuesBox = h("div", { id: "config-issues" });
    replace(el,
      h("h1", { text: "Config" }),
      h("div", { class: "row toolbar" }, saveBtn, reloadBtn, dirtyNote, meta),
      h("p", { class: "muted small" }, "Secrets are shown as ", h("code", { text: REDACTED }), "; leave that text in place to keep a secret as it is."),
      result,
      h("div", { class: "editor" }, gutter, text),
      issuesBox);

    let baseHash = "";
    let loadedText = "";
    let marks = new Map(); // line -> message

    function drawGutter() {
      const count = text.value.split("\n").length;
      const items = [];
      for (let i = 1; i <= count; i++) {
        const m = marks.get(i);
        items.push(h("li", { class: m ? "mark" : null, title: m || null, data: { line: i } }, String(i)));
      }
      replace(gutter, items);
      gutter.scrollTop = text.scrollTop;
    }

    function setDirty() {
      dirtyNote.hidden = text.value === loadedText;
    }

    function jumpTo(lineNo) {
      if (!lineNo) return;
      const lines = text.value.split("\n");
      let start = 0;
      for (let i = 0; i < lineNo - 1 && i < lines.length; i++) start += lines[i].length + 1;
      const end = start + (lines[lineNo - 1] || "").length;
      text.focus();
      text.setSelectionRange(start, end);
      const lh = parseFloat(getComputedStyle(text).lineHeight) || 18;
      text.scrollTop = Math.max(0, (lineNo - 3) * lh);
      gutter.scrollTop = text.scrollTop;
    }

    // showIssues lists problems with their path and marks their lines.
    function showIssues(title, issues, kind) {
      const lines = keyLines(text.value);
      marks = new Map();
      const items = issues.map((iss) => {
        const ln = lineFor(lines, iss.path, iss.message);
        if (ln) marks.set(ln, (marks.has(ln) ? marks.get(ln) + "\n" : "") + iss.message);
        const li = h("li", { class: "issue", data: { path: iss.path || "", line: ln || "" } },
          h("code", { class: "issue-path", text: iss.path || "(document)" }), " ",
          h("span", { class: "issue-msg", text: iss.message }),
          ln ? h("span", { class: "muted small", text: ` — line ${ln}` }) : null);
        if (ln) li.addEventListener("click", () => jumpTo(ln));
        return li;
      });
      replace(issuesBox, issues.length ? h("div", { class: "card card-" + kind }, h("h2", { text: title }), h("ul", { class: "issue-list", id: "config-issue-list" }, items)) : null);
      drawGutter();
    }

    async function load() {
      try {
        const res = await gw.request("config.get", {});
        baseHash = res.hash || "";
        loadedText = typeof res.raw === "string" ? res.raw : "{\n}\n";
        text.value = loadedText;
        meta.textContent = `${res.path || ""}${res.exists ? "" : " (not written yet)"}`;
        replace(result);
        const probs = [...(res.issues || []), ...(res.warnings || []).map((w) => ({ ...w, message: "warning: " + w.message }))];
        showIssues("Problems in the running config", probs, res.issues?.length ? "error" : "warn");
        setDirty();
      } catch (e) {
        replace(result, h("p", { class: "error", text: "Cannot load the config: " + errorText(e) }));
      }
    }

    async function save() {
      saveBtn.disabled = true;
      replace(result);
      try {
        const res = await gw.request("config.set", { raw: text.value, ...(baseHash ? { baseHash } : {}) });
        baseHash = res.hash || baseHash;
        loadedText = text.value;
        setDirty();
        showIssues("", [], "ok");
        const restart = res.restartRequired || [];
        replace(result, h("p", { class: "ok", id: "config-saved", text: "Saved." + (restart.length ? " Restart the gateway to apply: " + restart.join(", ") + "." : " Applied.") }));
        toast("Config saved");
      } catch (e) {
        const issues = e.details?.issues;
        if (Array.isArray(issues) && issues.length) {
          replace(result, h("p", { class: "error", id: "config-error", text: "Not saved: the config does not validate." }));
          showIssues("Fix these and save again", issues, "error");
        } else {
          const stale = /changed since last load/.test(e.message || "");
          const again = stale ? h("button", { type: "button", class: "btn btn-small", text: "Load the current config" }) : null;
          if (again) again.addEventListener("click", load);
          replace(result, h("p", { class: "error", id: "config-error", text: "Not saved: " + errorText(e) + " " }, again));
        }
      } finally {
        saveBtn.disabled = false;
      }
    }

    text.addEventListener("input", () => {
      setDirty();
      drawGutter();
    });
    text.addEventListener("scroll", () => {
      gutter.scrollTop = text.scrollTop;
    });
    text.addEventListener("keydown", (ev) => {
      if (ev.key === "Tab" && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) {
        ev.preventDefault();
        text.setRangeText("  ", text.selectionStart, text.selectionEnd, "end");
        setDirty();
      }
      if ((ev.ctrlKey || ev.metaKey) && ev.key === "s") {
        ev.preventDefault();
        save();
      }
    });
    saveBtn.addEventListener("click", save);
    reloadBtn.addEventListener("click", () => {
      if (text.value !== loadedText && !confirm("Discard your unsaved changes?")) return;
      load();
    });

    const offs = [gw.on("event:config.changed", (p) => {
      if (p?.hash && p.hash === baseHash) return;
      if (text.value === loadedText) load();
      else replace(result, h("p", { class: "warn", text: "The config was changed elsewhere. Saving now will be refused; reload it first (your edits are lost)." }));
    })];
    drawGutter();
    return {
      refresh() {
        if (text.value === loadedText) load();
      },
      unmount() {
        offs.forEach((f) => f());
      },
    };
  },
};
