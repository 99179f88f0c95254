// Chat (WebChat): sessions, history with paging, streamed replies, tool
// activity, abort, new sessions and image attachments.

import { h, replace, clear, fmtTime, fmtAgo, errorText, toast, button, muted } from "../dom.js";
import { renderMarkdown } from "../markdown.js";

const PAGE = 50;
const MAX_IMAGE_BYTES = 6 * 1024 * 1024;
const LAST_KEY = "pincer.chat.session";

function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.filter((p) => p && p.type === "text" && typeof p.text === "string").map((p) => p.text).join("\n");
}

function randomName() {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return "ui-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

export default {
  id: "chat",
  path: "/chat",
  title: "Chat",
  mount(el, { gw }) {
    const params = new URLSearchParams(location.search);
    const mainKey = () => gw.hello?.snapshot?.sessionDefaults?.mainSessionKey || "agent:main:main";
    let sessionKey = params.get("session") || localStorage.getItem(LAST_KEY) || "";
    let sessions = [];
    let cursor = null;
    let hasMore = false;
    let activeRun = null; // runId of the visible session's run
    const runs = new Map(); // runId -> {bubble, body, tools, text}
    let attachments = []; // {name, mimeType, dataUrl, size}

    const sessionList = h("ul", { class: "session-list", id: "session-list" });
    const newBtn = h("button", { type: "button", class: "btn btn-primary", id: "new-session", text: "New session" });
    const aside = h("aside", { class: "chat-sessions" }, h("div", { class: "chat-sessions-head" }, h("h2", { text: "Sessions" }), newBtn), sessionList);
    const toggle = h("button", { type: "button", class: "btn btn-small sessions-toggle", text: "Sessions" });
    const title = h("h1", { class: "chat-title", id: "chat-title" });
    const runState = h("span", { class: "run-state muted", id: "run-state" });
    const older = h("button", { type: "button", class: "btn btn-small", id: "load-older", text: "Load older messages", hidden: true });
    const log = h("div", { class: "chat-log", id: "chat-log", "aria-live": "polite" });
    const scroller = h("div", { class: "chat-scroll", id: "chat-scroll" }, h("div", { class: "older-wrap" }, older), log);
    const input = h("textarea", { id: "chat-input", rows: 2, placeholder: "Message", title: "Enter sends; Shift+Enter starts a new line", "aria-label": "Message" });
    const file = h("input", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", multiple: true, hidden: true, id: "chat-file" });
    const attachBtn = h("button", { type: "button", class: "btn btn-icon", id: "chat-attach", title: "Attach images", "aria-label": "Attach images", text: "+" });
    const abortBtn = h("button", { type: "button", class: "btn btn-danger", id: "chat-abort", text: "Stop", disabled: true });
    const sendBtn = h("button", { type: "submit", class: "btn btn-primary", id: "chat-send", text: "Send" });
    const previews = h("div", { class: "attach-previews", id: "attach-previews" });
    const form = h("form", { class: "composer", id: "composer" }, previews, h("div", { class: "composer-row" }, attachBtn, file, input, abortBtn, sendBtn));
    const mainCol = h("section", { class: "chat-main" }, h("header", { class: "chat-head" }, toggle, title, runState), scroller, form);
    replace(el, h("div", { class: "chat" }, aside, mainCol));

    toggle.addEventListener("click", () => el.classList.toggle("sessions-open"));

    function setSession(key, push = true) {
      sessionKey = key;
      try {
        localStorage.setItem(LAST_KEY, key);
      } catch {
        // ignore
      }
      if (push) {
        const u = new URL(location.href);
        u.searchParams.set("session", key);
        history.replaceState(null, "", u.pathname + u.search);
      }
      el.classList.remove("sessions-open");
      activeRun = null;
      runs.clear();
      drawTitle();
      drawSessions();
      loadHistory();
    }

    function sessionLabel(s) {
      return s.label || s.displayName || s.key;
    }

    function drawTitle() {
      const s = sessions.find((x) => x.key === sessionKey);
      title.textContent = s ? sessionLabel(s) : sessionKey.replace(/^agent:[^:]+:/, "");
      title.title = sessionKey;
      abortBtn.disabled = !activeRun && !(s && s.hasActiveRun);
    }

    function drawSessions() {
      const list = sessions.slice();
      if (sessionKey && !list.some((s) => s.key === sessionKey)) {
        list.unshift({ key: sessionKey, displayName: sessionKey.replace(/^agent:[^:]+:/, ""), fresh: true });
      }
      replace(sessionList, list.map((s) => {
        const a = h("a", { href: "/chat?session=" + encodeURIComponent(s.key), class: ["session", s.key === sessionKey && "active"], data: { key: s.key } },
          h("span", { class: "session-name", text: sessionLabel(s) }),
          h("span", { class: "session-meta muted", text: s.fresh ? "new" : (s.hasActiveRun ? "running · " : "") + fmtAgo(s.updatedAt) }));
        a.addEventListener("click", (ev) => {
          ev.preventDefault();
          if (s.key !== sessionKey) setSession(s.key);
        });
        const del = s.fresh ? null : button("×", async () => {
          if (!confirm(`Delete the session "${sessionLabel(s)}" and its transcript?`)) return;
          await gw.request("sessions.delete", { key: s.key });
          if (s.key === sessionKey) setSession(mainKey());
          await loadSessions();
        }, { class: "btn btn-icon session-del", title: "Delete session" });
        return h("li", null, a, del);
      }));
    }

    async function loadSessions() {
      try {
        const res = await gw.request("sessions.list", { limit: 100 });
        sessions = res.sessions || [];
      } catch (e) {
        toast("Sessions: " + errorText(e), "error");
      }
      drawSessions();
      drawTitle();
    }

    // Messages.

    function bubble(role, extraClass) {
      const body = h("div", { class: "msg-body" });
      const meta = h("div", { class: "msg-meta" });
      const b = h("div", { class: ["msg", "msg-" + role, extraClass] }, meta, body);
      return { b, body, meta };
    }

    function renderContent(body, content, role) {
      if (typeof content === "string") {
        body.append(role === "user" ? h("div", { class: "plain-text", text: content }) : renderMarkdown(content));
        return;
      }
      if (!Array.isArray(content)) return;
      for (const p of content) {
        if (!p || typeof p !== "object") continue;
        if (p.type === "text" && typeof p.text === "string") {
          body.append(role === "user" ? h("div", { class: "plain-text", text: p.text }) : renderMarkdown(p.text));
        } else if (p.type === "image") {
          const mime = p.mimeType || p.mediaType || "";
          const data = p.data || p.content || "";
          if (/^image\/(png|jpeg|gif|webp)$/.test(mime) && typeof data === "string" && /^[A-Za-z0-9+/=]+$/.test(data)) {
            body.append(h("img", { class: "msg-image", src: `data:${mime};base64,${data}`, alt: "image" }));
          } else {
            body.append(h("div", { class: "muted", text: "[image]" }));
          }
        } else if (p.type === "toolCall" || p.type === "tool_use") {
          body.append(h("div", { class: "tool-chip" }, h("span", { class: "tool-icon", text: "⚙" }), h("span", { text: p.name || "tool" })));
        }
      }
    }

    function messageNode(m) {
      const role = m.role === "toolResult" ? "tool" : m.role || "system";
      const { b, body, meta } = bubble(role);
      meta.append(h("span", { text: role === "assistant" ? "Assistant" : role === "user" ? "You" : role === "tool" ? "Tool result" : role }),
        h("span", { class: "muted", text: fmtTime(m.timestamp) }));
      if (role === "tool") {
        const d = h("details", null, h("summary", { text: (m.toolName || "tool") + (m.isError ? " (error)" : "") }));
        const t = textOf(m.content);
        d.append(h("pre", { class: "tool-output", text: t.length > 4000 ? t.slice(0, 4000) + "\n…" : t }));
        body.append(d);
      } else {
        renderContent(body, m.content, role);
      }
      if (m.stopReason === "aborted") b.classList.add("msg-aborted");
      return b;
    }

    function atBottom() {
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    }

    function scrollDown(force) {
      if (force || atBottom()) scroller.scrollTop = scroller.scrollHeight;
    }

    let historyGen = 0;
    async function loadHistory() {
      const gen = ++historyGen;
      clear(log);
      older.hidden = true;
      if (!gw.connected) return;
      try {
        const res = await gw.request("chat.history", { sessionKey, limit: PAGE });
        if (gen !== historyGen) return;
        if (res.sessionKey && res.sessionKey !== sessionKey) {
          sessionKey = res.sessionKey; // canonical form
          drawTitle();
        }
        cursor = res.cursor || null;
        hasMore = !!res.hasMore && !!cursor;
        older.hidden = !hasMore;
        const msgs = res.messages || [];
        if (!msgs.length) log.append(h("p", { class: "muted chat-empty", text: "No messages yet. Say hello." }));
        for (const m of msgs) log.append(messageNode(m));
        const s = res.sessionInfo;
        if (s && s.hasActiveRun && s.activeRunIds?.length) activeRun = s.activeRunIds[0];
        drawTitle();
        scrollDown(true);
      } catch (e) {
        if (gen === historyGen) log.append(h("p", { class: "error", text: "History: " + errorText(e) }));
      }
    }

    older.addEventListener("click", async () => {
      if (!cursor) return;
      older.disabled = true;
      try {
        const res = await gw.request("chat.history", { sessionKey, limit: PAGE, cursor });
        const prevHeight = scroller.scrollHeight;
        const frag = document.createDocumentFragment();
        for (const m of res.messages || []) frag.append(messageNode(m));
        log.prepend(frag);
        scroller.scrollTop += scroller.scrollHeight - prevHeight;
        cursor = res.cursor || null;
        hasMore = !!res.hasMore && !!cursor;
        older.hidden = !hasMore;
      } catch (e) {
        toast("Older messages: " + errorText(e), "error");
      } finally {
        older.disabled = false;
      }
    });

    // Streaming.

    function runBubble(runId) {
      let r = runs.get(runId);
      if (r) return r;
      log.querySelector(".chat-empty")?.remove();
      const { b, body, meta } = bubble("assistant", "msg-streaming");
      b.dataset.runId = runId;
      meta.append(h("span", { text: "Assistant" }), h("span", { class: "muted", text: fmtTime(Date.now()) }));
      const tools = h("ul", { class: "tool-activity" });
      const text = h("div", { class: "msg-text" });
      body.append(tools, text);
      log.append(b);
      r = { b, text, tools, toolItems: new Map(), content: "", frame: 0 };
      runs.set(runId, r);
      return r;
    }

    function drawRunText(r) {
      if (r.frame) return;
      r.frame = requestAnimationFrame(() => {
        r.frame = 0;
        const stick = atBottom();
        replace(r.text, renderMarkdown(r.content));
        if (stick) scrollDown(true);
      });
    }

    function endRun(runId, cls, note) {
      const r = runs.get(runId);
      if (r) {
        r.b.classList.remove("msg-streaming");
        if (cls) r.b.classList.add(cls);
        if (note) r.b.querySelector(".msg-body").append(h("div", { class: cls === "msg-error" ? "error" : "muted", text: note }));
      }
      if (activeRun === runId) activeRun = null;
      runState.textContent = "";
      drawTitle();
    }

    const offs = [];
    offs.push(gw.on("event:chat", (p) => {
      if (!p || p.sessionKey !== sessionKey) return;
      const runId = p.runId;
      switch (p.state) {
        case "status":
          activeRun = runId;
          runState.textContent = String(p.phase || "working").replace(/_/g, " ") + "…";
          drawTitle();
          break;
        case "delta": {
          activeRun = runId;
          const r = runBubble(runId);
          const cum = p.message ? textOf(p.message.content) : "";
          if (p.replace) r.content = cum || p.deltaText || "";
          else if (cum && cum.length >= r.content.length) r.content = cum;
          else r.content += p.deltaText || "";
          runState.textContent = "replying…";
          drawTitle();
          drawRunText(r);
          break;
        }
        case "final": {
          const r = runBubble(runId);
          const t = p.message ? textOf(p.message.content) : r.content;
          r.content = t || r.content;
          cancelAnimationFrame(r.frame);
          r.frame = 0;
          replace(r.text, renderMarkdown(r.content));
          if (!r.content && !r.toolItems.size) r.text.append(h("span", { class: "muted", text: "(no reply)" }));
          endRun(runId, "msg-done");
          scrollDown();
          loadSessionsSoon();
          break;
        }
        case "aborted":
          runBubble(runId);
          endRun(runId, "msg-aborted", p.errorMessage || "Stopped.");
          loadSessionsSoon();
          break;
        case "error":
          runBubble(runId);
          endRun(runId, "msg-error", p.errorMessage || "The run failed.");
          loadSessionsSoon();
          break;
      }
    }));
    offs.push(gw.on("event:agent", (p) => {
      if (!p || p.sessionKey !== sessionKey) return;
      if (p.stream !== "tool") return;
      const d = p.data || {};
      const r = runBubble(p.runId);
      const id = d.toolCallId || d.name;
      let item = r.toolItems.get(id);
      if (!item) {
        item = h("li", { class: "tool-item tool-running" }, h("span", { class: "tool-icon", text: "⚙" }), h("span", { class: "tool-name", text: d.name || "tool" }), h("span", { class: "tool-status muted", text: "running" }));
        r.toolItems.set(id, item);
        r.tools.append(item);
      }
      if (d.phase === "result") {
        item.classList.remove("tool-running");
        item.classList.add(d.isError ? "tool-failed" : "tool-done");
        item.querySelector(".tool-status").textContent = d.isError ? "failed" : "done";
      }
      scrollDown();
    }));
    offs.push(gw.on("event:sessions.changed", () => loadSessionsSoon()));

    let sessionsTimer = 0;
    function loadSessionsSoon() {
      clearTimeout(sessionsTimer);
      sessionsTimer = setTimeout(loadSessions, 300);
    }

    // Composer.

    function drawPreviews() {
      replace(previews, attachments.map((a, i) => {
        const rm = h("button", { type: "button", class: "btn btn-icon", title: "Remove", text: "×" });
        rm.addEventListener("click", () => {
          attachments.splice(i, 1);
          drawPreviews();
        });
        return h("div", { class: "attach-preview" }, h("img", { src: a.dataUrl, alt: a.name }), rm);
      }));
    }

    async function addFiles(files) {
      for (const f of files) {
        if (!/^image\/(png|jpeg|gif|webp)$/.test(f.type)) {
          toast(`${f.name}: only PNG, JPEG, GIF and WebP images can be attached`, "error");
          continue;
        }
        if (f.size > MAX_IMAGE_BYTES) {
          toast(`${f.name}: images over 6 MiB cannot be sent`, "error");
          continue;
        }
        attachments.push({ name: f.name, mimeType: f.type, size: f.size, dataUrl: await readFile(f) });
      }
      drawPreviews();
    }

    attachBtn.addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      await addFiles([...file.files]);
      file.value = "";
    });
    input.addEventListener("paste", (ev) => {
      const files = [...(ev.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
      if (files.length) {
        ev.preventDefault();
        addFiles(files);
      }
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = input.value;
      if (!text.trim() && !attachments.length) return;
      const atts = attachments.map((a) => ({ type: "image", mimeType: a.mimeType, fileName: a.name, content: a.dataUrl }));
      const idem = crypto.randomUUID();
      const mine = messageNode({ role: "user", content: text, timestamp: Date.now() });
      for (const a of attachments) mine.querySelector(".msg-body").append(h("img", { class: "msg-image", src: a.dataUrl, alt: a.name }));
      log.querySelector(".chat-empty")?.remove();
      log.append(mine);
      scrollDown(true);
      input.value = "";
      attachments = [];
      drawPreviews();
      sendBtn.disabled = true;
      try {
        const res = await gw.request("chat.send", { sessionKey, message: text, idempotencyKey: idem, ...(atts.length ? { attachments: atts } : {}) });
        activeRun = res.runId || idem;
        runState.textContent = "working…";
        drawTitle();
        if (!sessions.some((s) => s.key === sessionKey)) loadSessionsSoon();
      } catch (e) {
        mine.classList.add("msg-failed");
        mine.querySelector(".msg-body").append(h("div", { class: "error", text: "Not sent: " + errorText(e) }));
      } finally {
        sendBtn.disabled = false;
        input.focus();
      }
    });

    abortBtn.addEventListener("click", async () => {
      abortBtn.disabled = true;
      try {
        const res = await gw.request("chat.abort", { sessionKey, ...(activeRun ? { runId: activeRun } : {}) });
        if (!res.aborted) toast("Nothing was running.");
      } catch (e) {
        toast("Stop: " + errorText(e), "error");
      } finally {
        drawTitle();
      }
    });

    newBtn.addEventListener("click", () => {
      const agent = (/^agent:([^:]+):/.exec(sessionKey) || [])[1] || "main";
      setSession(`agent:${agent}:${randomName()}`);
      input.focus();
    });

    if (!sessionKey) sessionKey = mainKey();
    drawTitle();
    drawSessions();
    log.append(muted("Connecting…"));

    return {
      async refresh() {
        if (!params.get("session") && !localStorage.getItem(LAST_KEY)) sessionKey = mainKey();
        // A reconnect may have missed deltas: the transcript is the truth.
        runs.clear();
        activeRun = null;
        try {
          await gw.request("sessions.subscribe", {});
        } catch {
          // older gateways: the list is refreshed after each run instead
        }
        await loadSessions();
        await loadHistory();
      },
      unmount() {
        offs.forEach((f) => f());
        clearTimeout(sessionsTimer);
        for (const r of runs.values()) cancelAnimationFrame(r.frame);
      },
    };
  },
};
