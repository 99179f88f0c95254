// Overview: health, uptime, version, who is connected, the last heartbeat
// and recent errors from the gateway log.

import { h, replace, fmtTime, fmtAgo, fmtDuration, muted, errorText } from "../dom.js";

function kv(label, value, id) {
  return h("div", { class: "kv" }, h("dt", { text: label }), h("dd", { id, class: "kv-value" }, value));
}

function card(title, ...body) {
  return h("div", { class: "card" }, h("h2", { text: title }), ...body);
}

// logRecord parses one raw log line (JSON) into {time, level, msg, attrs}.
export function logRecord(line) {
  try {
    const o = JSON.parse(line);
    if (o && typeof o === "object") {
      // The gateway writes OpenClaw's keys (time, level, message); plain
      // slog records say msg.
      const { time, level, msg, message, ...attrs } = o;
      return { time, level: String(level || "").toUpperCase(), msg: String(message ?? msg ?? ""), attrs };
    }
  } catch {
    // not JSON
  }
  return { time: "", level: "", msg: String(line), attrs: {} };
}

export default {
  id: "overview",
  path: "/overview",
  title: "Overview",
  mount(el, { gw }) {
    const status = h("dl", { class: "kvs" });
    const presence = h("div", { class: "table-wrap" });
    const heartbeat = h("div");
    const errors = h("div");
    const channels = h("div");
    replace(el,
      h("h1", { text: "Overview" }),
      h("div", { class: "grid" },
        card("Gateway", status),
        card("Heartbeat", heartbeat),
        card("Channels", channels),
        h("div", { class: "card card-wide" }, h("h2", { text: "Connected" }), presence),
        h("div", { class: "card card-wide" }, h("h2", { text: "Recent errors" }), errors)));

    let health = null;
    let lastHb = null;
    let presenceList = [];

    function drawStatus() {
      const hello = gw.hello;
      if (!hello) {
        replace(status, muted("Not connected."));
        return;
      }
      const ok = health ? health.ok !== false : true;
      replace(status,
        kv("Status", h("span", { class: ok ? "ok" : "bad", text: ok ? "healthy" : "degraded" }), "ov-health"),
        kv("Version", hello.server?.version || "?", "ov-version"),
        kv("Uptime", fmtDuration(gw.uptimeMs()), "ov-uptime"),
        kv("Connection", `${hello.auth?.method || "?"} · ${hello.auth?.role || ""}`, "ov-auth"),
        kv("Scopes", (hello.auth?.scopes || []).join(", ") || "none"),
        kv("Agent", health?.defaultAgentId || hello.snapshot?.sessionDefaults?.defaultAgentId || "main"),
        health?.eventLoop?.degraded ? kv("Scheduler", "degraded: " + (health.eventLoop.reasons || []).join(", ")) : null);
    }

    function drawPresence() {
      if (!presenceList.length) {
        replace(presence, muted("No one."));
        return;
      }
      const rows = presenceList.map((p) => h("tr", null,
        h("td", { text: p.host || p.clientId || "—" }),
        h("td", { text: [p.clientId, p.mode].filter(Boolean).join(" / ") || p.reason || "—" }),
        h("td", { text: p.platform || "—" }),
        h("td", { text: p.ip || "—" }),
        h("td", { text: p.version || "—" }),
        h("td", { text: p.reason === "disconnect" ? "left " + fmtAgo(p.ts) : fmtAgo(p.onlineSince || p.ts) })));
      replace(presence, h("table", { class: "table", id: "presence-table" },
        h("thead", null, h("tr", null, ...["Host", "Client", "Platform", "IP", "Version", "Since"].map((t) => h("th", { text: t })))),
        h("tbody", null, rows)));
    }

    function drawHeartbeat() {
      if (!lastHb) {
        replace(heartbeat, muted("No heartbeat yet."), health?.heartbeatSeconds ? h("p", { class: "muted", text: `Every ${fmtDuration(health.heartbeatSeconds * 1000)}.` }) : null);
        return;
      }
      replace(heartbeat, h("dl", { class: "kvs" },
        kv("Last", `${fmtTime(lastHb.ts)} (${fmtAgo(lastHb.ts)})`),
        kv("Status", lastHb.status || "—"),
        lastHb.reason ? kv("Reason", lastHb.reason) : null,
        lastHb.channel ? kv("Channel", lastHb.channel + (lastHb.to ? " → " + lastHb.to : "")) : null,
        lastHb.preview ? kv("Preview", lastHb.preview) : null));
    }

    function drawChannels() {
      const chans = health?.channels || {};
      const ids = health?.channelOrder?.length ? health.channelOrder : Object.keys(chans);
      if (!ids.length) {
        replace(channels, muted("No channels configured."));
        return;
      }
      replace(channels, h("ul", { class: "plain" }, ids.map((id) => {
        const c = chans[id] || {};
        const state = c.healthState || (c.connected ? "connected" : c.running ? "running" : "stopped");
        return h("li", null, h("span", { class: ["dot", c.connected ? "dot-ok" : c.lastError ? "dot-bad" : "dot-off"] }),
          h("strong", { text: (health.channelLabels || {})[id] || id }), " ", h("span", { class: "muted", text: state }),
          c.lastError ? h("div", { class: "error small", text: c.lastError }) : null);
      })));
    }

    async function loadErrors() {
      try {
        const res = await gw.request("logs.tail", { limit: 1000, maxBytes: 500000 });
        const recs = (res.lines || []).map(logRecord).filter((r) => r.level === "ERROR" || r.level === "WARN").slice(-15).reverse();
        if (!recs.length) {
          replace(errors, muted("No warnings or errors in the recent log."));
          return;
        }
        replace(errors, h("ul", { class: "log-list", id: "recent-errors" }, recs.map((r) => h("li", { class: "log-" + r.level.toLowerCase() },
          h("span", { class: "log-time", text: fmtTime(r.time) }), h("span", { class: "log-level", text: r.level }), h("span", { text: r.msg }),
          Object.keys(r.attrs).length ? h("span", { class: "log-attrs", text: " " + Object.entries(r.attrs).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ") }) : null))));
      } catch (e) {
        replace(errors, h("p", { class: "error", text: "Cannot read the log: " + errorText(e) }));
      }
    }

    async function refresh() {
      drawStatus();
      const [hl, pr, hb] = await Promise.allSettled([
        gw.request("health", {}), gw.request("system-presence", {}), gw.request("last-heartbeat", {}),
      ]);
      if (hl.status === "fulfilled") health = hl.value;
      if (pr.status === "fulfilled") presenceList = Array.isArray(pr.value) ? pr.value : [];
      if (hb.status === "fulfilled") lastHb = hb.value;
      drawStatus();
      drawPresence();
      drawHeartbeat();
      drawChannels();
      loadErrors();
    }

    const offs = [
      gw.on("event:health", (p) => {
        health = p;
        drawStatus();
        drawChannels();
      }),
      gw.on("event:presence", (p) => {
        presenceList = p?.presence || [];
        drawPresence();
      }),
      gw.on("event:heartbeat", (p) => {
        lastHb = p;
        drawHeartbeat();
      }),
    ];
    const clock = setInterval(() => {
      const up = el.querySelector("#ov-uptime");
      if (up && gw.hello) up.textContent = fmtDuration(gw.uptimeMs());
    }, 1000);
    drawStatus();
    return {
      refresh,
      unmount() {
        offs.forEach((f) => f());
        clearInterval(clock);
      },
    };
  },
};
