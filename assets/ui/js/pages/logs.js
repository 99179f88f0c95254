// Logs: a live tail of the gateway log (logs.tail with its byte cursor),
// filtered by level and text.

import { h, replace, fmtTime, errorText } from "../dom.js";
import { logRecord } from "./overview.js";

const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"];
const MAX_LINES = 2000;
const POLL_MS = 1500;

export default {
  id: "logs",
  path: "/logs",
  title: "Logs",
  mount(el, { gw }) {
    const level = h("select", { id: "log-level", "aria-label": "Lowest level" },
      LEVELS.map((l) => h("option", { value: l, text: l === "DEBUG" ? "All levels" : l + " and above", selected: l === "INFO" })));
    const filter = h("input", { type: "search", id: "log-filter", placeholder: "Filter", "aria-label": "Filter" });
    const pause = h("button", { type: "button", class: "btn", id: "log-pause", text: "Pause" });
    const clearBtn = h("button", { type: "button", class: "btn", text: "Clear" });
    const info = h("span", { class: "muted small", id: "log-info" });
    const out = h("ol", { class: "log-lines", id: "log-lines" });
    const box = h("div", { class: "log-box" }, out);
    replace(el, h("h1", { text: "Logs" }), h("div", { class: "row toolbar" }, level, filter, pause, clearBtn, info), box);

    let records = [];
    let cursor = null;
    let paused = false;
    let timer = 0;
    let busy = false;
    let stopped = false;

    function visible(r) {
      const min = LEVELS.indexOf(level.value);
      const li = LEVELS.indexOf(r.level);
      if (li >= 0 && li < min) return false;
      const q = filter.value.trim().toLowerCase();
      return !q || r.raw.toLowerCase().includes(q);
    }

    function line(r) {
      const attrs = Object.entries(r.attrs).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
      return h("li", { class: ["log-line", "log-" + (r.level || "raw").toLowerCase()] },
        h("span", { class: "log-time", text: r.time ? fmtTime(r.time) : "" }),
        h("span", { class: "log-level", text: r.level }),
        h("span", { class: "log-msg", text: r.msg }),
        attrs ? h("span", { class: "log-attrs", text: " " + attrs }) : null);
    }

    function redraw() {
      replace(out, records.filter(visible).map(line));
      box.scrollTop = box.scrollHeight;
    }

    function add(lines) {
      const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
      const fresh = lines.map((l) => ({ ...logRecord(l), raw: l }));
      records.push(...fresh);
      if (records.length > MAX_LINES) {
        records = records.slice(-MAX_LINES);
        redraw();
        return;
      }
      out.append(...fresh.filter(visible).map(line));
      if (stick) box.scrollTop = box.scrollHeight;
    }

    async function poll() {
      clearTimeout(timer);
      if (stopped || busy) return; // the request in flight schedules the next poll
      if (!paused && gw.connected) {
        busy = true;
        try {
          const res = await gw.request("logs.tail", cursor === null ? { limit: 500 } : { cursor, limit: 1000 });
          if (res.reset) {
            records = [];
            replace(out);
          }
          cursor = res.cursor;
          add(res.lines || []);
          info.textContent = `${res.file || ""}${res.truncated ? " (older lines skipped)" : ""}`;
        } catch (e) {
          info.textContent = "Cannot read the log: " + errorText(e);
        } finally {
          busy = false;
        }
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    }

    level.addEventListener("change", redraw);
    filter.addEventListener("input", redraw);
    pause.addEventListener("click", () => {
      paused = !paused;
      pause.textContent = paused ? "Resume" : "Pause";
      if (!paused) poll();
    });
    clearBtn.addEventListener("click", () => {
      records = [];
      replace(out);
    });

    return {
      refresh() {
        // After a reconnect the gateway may have restarted: start over.
        cursor = null;
        records = [];
        replace(out);
        poll();
      },
      unmount() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  },
};
