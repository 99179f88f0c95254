// A small Markdown renderer for chat messages that builds DOM nodes
// directly: text only ever becomes text nodes, so no markup in a message
// (or in a model's reply) can run or inject elements. Supported: fenced and
// indented code blocks, inline code, headings, bold, italic, strikethrough,
// links and bare URLs (http and https only, opened with noopener and no
// referrer), ordered and unordered lists, blockquotes, rules, line breaks.

import { h } from "./dom.js";

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const UL = /^(\s*)[-*+]\s+(.*)$/;
const OL = /^(\s*)(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const INDENTED = /^( {4}|\t)/;

// renderMarkdown returns a DocumentFragment for src.
export function renderMarkdown(src) {
  const frag = document.createDocumentFragment();
  blocks(String(src ?? "").replace(/\r\n?/g, "\n").split("\n"), frag, 0);
  return frag;
}

function blocks(lines, parent, depth) {
  let i = 0;
  let para = [];
  const flush = () => {
    if (para.length) {
      const p = h("p");
      para.forEach((l, j) => {
        if (j) p.append(h("br"));
        inline(l, p);
      });
      parent.append(p);
      para = [];
    }
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if ((m = FENCE.exec(line))) {
      flush();
      const fence = m[1];
      const lang = m[2].replace(/[^\w+#.-]/g, "").slice(0, 20);
      const body = [];
      i++;
      while (i < lines.length && !new RegExp("^ {0,3}" + fence[0] + "{" + fence.length + ",}\\s*$").test(lines[i])) {
        body.push(lines[i]);
        i++;
      }
      i++; // the closing fence (or the end)
      parent.append(codeBlock(body.join("\n"), lang));
      continue;
    }
    if (!line.trim()) {
      flush();
      i++;
      continue;
    }
    if (para.length === 0 && INDENTED.test(line)) {
      const body = [];
      while (i < lines.length && (INDENTED.test(lines[i]) || !lines[i].trim())) {
        body.push(lines[i].replace(INDENTED, ""));
        i++;
      }
      while (body.length && !body[body.length - 1].trim()) body.pop();
      parent.append(codeBlock(body.join("\n"), ""));
      continue;
    }
    if ((m = HEADING.exec(line))) {
      flush();
      const level = Math.min(6, m[1].length + 2); // h3…h6: headings inside a message stay small
      const el = h("h" + level, { class: "md-h" });
      inline(m[2], el);
      parent.append(el);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      flush();
      parent.append(h("hr"));
      i++;
      continue;
    }
    if (QUOTE.test(line) && depth < 8) {
      flush();
      const inner = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) {
        inner.push(m[1]);
        i++;
      }
      const bq = h("blockquote");
      blocks(inner, bq, depth + 1);
      parent.append(bq);
      continue;
    }
    if (UL.test(line) || OL.test(line)) {
      flush();
      i = list(lines, i, parent, depth);
      continue;
    }
    para.push(line);
    i++;
  }
  flush();
}

function list(lines, i, parent, depth) {
  const first = OL.exec(lines[i]);
  const ordered = !!first;
  const indent = (ordered ? first[1] : UL.exec(lines[i])[1]).length;
  const el = ordered ? h("ol") : h("ul");
  if (ordered && first[2] !== "1") el.setAttribute("start", String(parseInt(first[2], 10)));
  let li = null;
  while (i < lines.length) {
    const line = lines[i];
    const m = ordered ? OL.exec(line) : UL.exec(line);
    if (m && m[1].length === indent) {
      li = h("li");
      inline(ordered ? m[3] : m[2], li);
      el.append(li);
      i++;
      continue;
    }
    const lead = (/^(\s*)/.exec(line) || ["", ""])[1].length;
    if (li && line.trim() && lead > indent && depth < 8) {
      // A nested list or a continuation line of the item.
      if (UL.test(line) || OL.test(line)) {
        i = list(lines, i, li, depth + 1);
      } else {
        li.append(h("br"));
        inline(line.trim(), li);
        i++;
      }
      continue;
    }
    break;
  }
  parent.append(el);
  return i;
}

function codeBlock(text, lang) {
  const code = h("code", { class: lang ? "lang-" + lang : null, text });
  const copy = h("button", { type: "button", class: "btn btn-small code-copy", text: "Copy", title: "Copy the code" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
      setTimeout(() => (copy.textContent = "Copy"), 1500);
    } catch {
      copy.textContent = "Copy failed";
    }
  });
  return h("div", { class: "md-code" }, h("div", { class: "md-code-head" }, h("span", { class: "md-lang", text: lang || "" }), copy), h("pre", null, code));
}

// Inline spans, tried in this order at each position. Spans are bounded so
// that text full of unmatched markers stays linear.
const INLINE = [
  { re: /\\([\\`*_{}[\]()#+\-.!~>|])/y, fn: (m, el) => el.append(m[1]) },
  {
    re: /(`+)([^]{0,8000}?[^`])\1(?!`)/y,
    fn: (m, el) => el.append(h("code", { text: m[2].replace(/^ (.*) $/, "$1") })),
  },
  { re: /\[([^\]\n]{1,500})\]\(\s*<?([^()\s<>]{1,2000})>?(?:\s+"[^"]*")?\s*\)/y, fn: (m, el) => el.append(link(m[2], m[1])) },
  { re: /<(https?:\/\/[^\s<>]{1,2000})>/iy, fn: (m, el) => el.append(link(m[1], null)) },
  {
    re: /https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"*_~\]]/iy,
    fn: (m, el) => el.append(link(m[0], null)),
  },
  { re: /\*\*\*(?=\S)([^]{0,2000}?\S)\*\*\*/y, fn: (m, el) => el.append(h("strong", null, inline(m[1], h("em")))) },
  { re: /(\*\*|__)(?=\S)([^]{0,2000}?\S)\1/y, fn: (m, el) => el.append(inline(m[2], h("strong"))) },
  { re: /~~(?=\S)([^]{0,2000}?\S)~~/y, fn: (m, el) => el.append(inline(m[1], h("del"))) },
  { re: /\*(?=[^\s*])([^*]{0,2000}?[^\s*])\*(?!\*)/y, fn: (m, el) => el.append(inline(m[1], h("em"))) },
  { re: /(?<![A-Za-z0-9_])_(?=[^\s_])([^_]{0,2000}?[^\s_])_(?![A-Za-z0-9_])/y, fn: (m, el) => el.append(inline(m[1], h("em"))) },
];

const SPECIAL = /[\\`[<hH*_~]/g;

function inline(text, el) {
  let pos = 0;
  let plain = "";
  const out = () => {
    if (plain) {
      el.append(plain);
      plain = "";
    }
  };
  while (pos < text.length) {
    SPECIAL.lastIndex = pos;
    const s = SPECIAL.exec(text);
    if (!s) break;
    plain += text.slice(pos, s.index);
    pos = s.index;
    let matched = false;
    for (const { re, fn } of INLINE) {
      re.lastIndex = pos;
      const m = re.exec(text);
      if (m) {
        out();
        // Take the end before fn: it recurses into inline(), which reuses
        // these sticky regexes and moves their lastIndex.
        const end = m.index + m[0].length;
        fn(m, el);
        pos = end;
        matched = true;
        break;
      }
    }
    if (!matched) {
      plain += text[pos];
      pos++;
    }
  }
  plain += text.slice(pos);
  out();
  return el;
}

// link makes an <a> for http(s) URLs only; anything else (javascript:,
// data:, relative paths …) stays plain text.
function link(url, label) {
  let u = null;
  try {
    u = new URL(url);
  } catch {
    u = null;
  }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) {
    return document.createTextNode(label !== null ? `[${label}](${url})` : url);
  }
  const a = h("a", { href: u.href, target: "_blank", rel: "noopener noreferrer nofollow" });
  a.textContent = label !== null ? label : url;
  return a;
}
