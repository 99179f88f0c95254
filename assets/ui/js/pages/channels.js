// Channels: the state of every account, start/stop/logout, login (with a QR
// for channels that log in by scanning one) and DM pairing requests.

import { h, replace, fmtAgo, errorText, button, muted, toast } from "../dom.js";

export default {
  id: "channels",
  path: "/channels",
  title: "Channels",
  mount(el, { gw }) {
    const list = h("div", { id: "channel-list" });
    const issues = h("div", { id: "channel-issues" });
    const pairing = h("div", { id: "dm-pairing" });
    const login = h("div", { id: "channel-login" });
    replace(el,
      h("h1", { text: "Channels" }),
      h("div", { class: "card" }, h("h2", { text: "Accounts" }), list, issues),
      login,
      h("div", { class: "card" }, h("h2", { text: "DM pairing requests" }),
        h("p", { class: "muted", text: "People who messaged a channel under dmPolicy \"pairing\" wait here until approved." }), pairing));

    let status = null;
    let loginGen = 0;

    async function act(method, params, done) {
      try {
        const res = await gw.request(method, params);
        if (done) toast(done);
        return res;
      } catch (e) {
        toast(method + ": " + errorText(e), "error");
      } finally {
        refresh();
      }
    }

    async function startLogin(channel, accountId, force) {
      const gen = ++loginGen;
      const box = h("div", { class: "card", id: "login-box" }, h("h2", { text: `Log in: ${channel}${accountId ? " / " + accountId : ""}` }));
      const msg = h("p", { class: "muted", text: "Starting…" });
      const qr = h("div");
      const cancel = h("button", { type: "button", class: "btn btn-small", text: "Close" });
      cancel.addEventListener("click", () => {
        loginGen++;
        replace(login);
      });
      box.append(msg, qr, cancel);
      replace(login, box);
      if (!gw.hasMethod("web.login.start")) {
        msg.textContent = "";
        msg.append("This gateway logs channels in from its command line: run ", h("code", { text: `pincer channels login ${channel}${accountId ? " --account " + accountId : ""}` }), " on the gateway host, then start the channel here.");
        return;
      }
      try {
        let res = await gw.request("web.login.start", { channel, force: !!force, timeoutMs: 30000, ...(accountId ? { accountId } : {}) }, { timeoutMs: 40000 });
        let key = res.sessionKey;
        while (gen === loginGen) {
          msg.textContent = res.message || (res.connected ? "Linked." : "Scan the code with the app on your phone.");
          if (res.qrDataUrl) replace(qr, h("img", { class: "qr", src: res.qrDataUrl, alt: "Login QR code" }));
          if (res.connected) {
            replace(qr);
            refresh();
            return;
          }
          res = await gw.request("web.login.wait", { channel, timeoutMs: 120000, ...(key ? { sessionKey: key } : {}), ...(accountId ? { accountId } : {}), ...(res.qrDataUrl ? { currentQrDataUrl: res.qrDataUrl } : {}) }, { timeoutMs: 130000 });
          key = res.sessionKey || key;
        }
      } catch (e) {
        if (gen === loginGen) msg.textContent = "Login failed: " + errorText(e);
      }
    }

    function draw() {
      if (!status) return;
      const order = status.channelOrder || Object.keys(status.channelAccounts || {});
      if (!order.length) {
        replace(list, muted("No channels are configured. Add one under channels.* on the Config page."));
      } else {
        replace(list, order.map((id) => {
          const label = (status.channelLabels || {})[id] || id;
          const accounts = (status.channelAccounts || {})[id] || [];
          const summary = (status.channels || {})[id] || {};
          return h("div", { class: "channel", data: { channel: id } },
            h("h3", { text: label }),
            summary.qrDataUrl ? h("img", { class: "qr", src: summary.qrDataUrl, alt: label + " login QR" }) : null,
            h("table", { class: "table" },
              h("thead", null, h("tr", null, ...["Account", "State", "Policy", "Activity", ""].map((t) => h("th", { text: t })))),
              h("tbody", null, accounts.map((a) => {
                const state = a.healthState || (a.connected ? "connected" : a.running ? "running" : "stopped");
                const acct = { channel: id, accountId: a.accountId };
                return h("tr", { data: { account: a.accountId } },
                  h("td", null, h("strong", { text: a.name || a.accountId }), a.name ? h("div", { class: "small muted", text: a.accountId }) : null),
                  h("td", null, h("span", { class: ["dot", a.connected ? "dot-ok" : a.lastError ? "dot-bad" : "dot-off"] }), state,
                    a.linked === false ? h("div", { class: "small warn", text: "not linked" }) : null,
                    a.lastError ? h("div", { class: "small error", text: a.lastError }) : null),
                  h("td", { text: a.dmPolicy || "—" }),
                  h("td", { class: "small" }, a.lastInboundAt ? "in " + fmtAgo(a.lastInboundAt) : "", a.lastInboundAt && a.lastOutboundAt ? " · " : "", a.lastOutboundAt ? "out " + fmtAgo(a.lastOutboundAt) : "", !a.lastInboundAt && !a.lastOutboundAt ? "—" : ""),
                  h("td", { class: "actions" },
                    a.running
                      ? button("Stop", () => act("channels.stop", acct, `${label} stopped`), { class: "btn btn-small", data: { action: "stop" } })
                      : button("Start", () => act("channels.start", acct, `${label} started`), { class: "btn btn-small btn-primary", data: { action: "start" } }),
                    // WebChat is this UI's own surface: nothing to log in to.
                    id === "webchat" ? null : button("Log in", () => startLogin(id, a.accountId, false), { class: "btn btn-small", data: { action: "login" } }),
                    id === "webchat" ? null : button("Log out", async () => {
                      if (!confirm(`Log ${label} (${a.accountId}) out? Its stored login is forgotten.`)) return;
                      await act("channels.logout", acct, `${label} logged out`);
                    }, { class: "btn btn-small btn-danger", data: { action: "logout" } })));
              }))));
        }));
      }
      const iss = status.statusIssues || [];
      replace(issues, iss.length ? h("ul", { class: "issues" }, iss.map((i) => h("li", { class: "issue-" + i.kind },
        h("strong", { text: `${i.channel}${i.accountId ? "/" + i.accountId : ""}: ` }), i.message, i.fix ? h("div", { class: "small muted", text: "Fix: " + i.fix }) : null))) : null);
    }

    async function loadPairing() {
      try {
        const res = await gw.request("channels.pairing.list", {});
        const reqs = res.requests || [];
        if (!reqs.length) {
          replace(pairing, muted("No one is waiting."));
          return;
        }
        replace(pairing, h("ul", { class: "cards" }, reqs.map((r) => {
          const who = r.metadata?.name || r.metadata?.username || r.senderId;
          const p = { channel: r.channel, accountId: r.accountId, requestId: r.requestId };
          return h("li", { class: "req", data: { requestId: r.requestId } },
            h("div", { class: "req-title" }, h("strong", { text: who }), " ", h("span", { class: "muted", text: `${r.channelLabel || r.channel} / ${r.accountId}` })),
            h("div", { class: "small" }, `Code ${r.metadata?.code || "?"} · sender ${r.senderId} · asked ${fmtAgo(Date.parse(r.createdAt))}`),
            h("div", { class: "actions" },
              button("Approve", () => act("channels.pairing.approve", { ...p, notify: true }, `${who} approved`).then(loadPairing), { class: "btn btn-primary" }),
              button("Dismiss", () => act("channels.pairing.dismiss", p, "Dismissed").then(loadPairing), { class: "btn" })));
        })));
      } catch (e) {
        replace(pairing, h("p", { class: "error", text: errorText(e) }));
      }
    }

    async function refresh() {
      try {
        status = await gw.request("channels.status", {});
        draw();
      } catch (e) {
        replace(list, h("p", { class: "error", text: errorText(e) }));
      }
      loadPairing();
    }

    let timer = 0;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    };
    const offs = [gw.on("event:health", soon), gw.on("event:channel.message", soon)];
    return {
      refresh,
      unmount() {
        loginGen++;
        offs.forEach((f) => f());
        clearTimeout(timer);
      },
    };
  },
};
