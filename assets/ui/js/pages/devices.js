// Devices & nodes: pending device and node requests (approve/reject), the
// paired devices (rename, revoke a token, remove), the nodes and their
// capabilities, and a setup-code QR for pairing a phone.

import { h, replace, fmtAgo, fmtTime, shortId, errorText, button, muted, toast } from "../dom.js";

function chips(list, cls = "chip") {
  if (!list || !list.length) return h("span", { class: "muted", text: "none" });
  return h("span", { class: "chips" }, list.map((s) => h("span", { class: cls, text: s })));
}

export default {
  id: "devices",
  path: "/devices",
  title: "Devices & nodes",
  mount(el, { gw }) {
    const pendingDevices = h("div", { id: "pending-devices" });
    const paired = h("div", { id: "paired-devices", class: "table-wrap" });
    const pendingNodes = h("div", { id: "pending-nodes" });
    const nodes = h("div", { id: "node-list" });
    const setup = h("div", { id: "setup-code" });
    const publicUrl = h("input", { type: "url", id: "setup-public-url", placeholder: "wss://gateway.example:18789 (optional)", "aria-label": "Public gateway URL" });
    const setupBtn = button("Create a setup code", createSetupCode, { class: "btn btn-primary" });
    setupBtn.id = "setup-create";
    replace(el,
      h("h1", { text: "Devices & nodes" }),
      h("div", { class: "card" }, h("h2", { text: "Pending requests" }), pendingDevices, pendingNodes),
      h("div", { class: "card" }, h("h2", { text: "Paired devices" }), paired),
      h("div", { class: "card" }, h("h2", { text: "Nodes" }), nodes),
      h("div", { class: "card" }, h("h2", { text: "Pair a phone" }),
        h("p", { class: "muted", text: "A setup code carries this gateway's address and a one-time bootstrap token (valid for 10 minutes). Scan it with the app." }),
        h("div", { class: "row" }, publicUrl, setupBtn), setup));

    let devs = { pending: [], paired: [] };
    let nodePairs = { pending: [], paired: [] };
    let nodeList = [];

    async function act(method, params, done) {
      try {
        await gw.request(method, params);
        if (done) toast(done);
      } catch (e) {
        toast(method + ": " + errorText(e), "error");
      }
      await refresh();
    }

    function drawPendingDevices() {
      if (!devs.pending.length) {
        replace(pendingDevices, muted("No device is waiting for approval."));
        return;
      }
      replace(pendingDevices, h("ul", { class: "cards" }, devs.pending.map((p) => h("li", { class: "req", data: { requestId: p.requestId } },
        h("div", { class: "req-title" }, h("strong", { text: p.displayName || p.clientId || shortId(p.deviceId) }), " ",
          h("span", { class: "muted", text: [p.platform, p.deviceFamily].filter(Boolean).join(" · ") })),
        h("div", { class: "small" }, `${p.clientId || "?"}/${p.clientMode || "?"} · role ${p.role || (p.roles || []).join(",")} · from ${p.remoteIp || "?"} · ${fmtAgo(p.ts)}`),
        p.isRepair ? h("div", { class: "small warn", text: "Re-approval: " + (p.reason || "changed") }) : null,
        h("div", { class: "small" }, "Scopes: ", chips(p.scopes)),
        h("div", { class: "small muted", text: "Device " + p.deviceId }),
        h("div", { class: "actions" },
          button("Approve", () => act("device.pair.approve", { requestId: p.requestId }, "Device approved"), { class: "btn btn-primary", data: { action: "approve" } }),
          button("Reject", () => act("device.pair.reject", { requestId: p.requestId }, "Request rejected"), { class: "btn btn-danger", data: { action: "reject" } }))))));
    }

    function renameForm(current, onSave) {
      const input = h("input", { type: "text", value: current || "", maxlength: 64, "aria-label": "New name" });
      const form = h("form", { class: "inline-form" }, input, h("button", { type: "submit", class: "btn btn-small btn-primary", text: "Save" }));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const v = input.value.trim();
        if (!v) return;
        await onSave(v);
      });
      setTimeout(() => input.focus(), 0);
      return form;
    }

    function drawPaired() {
      if (!devs.paired.length) {
        replace(paired, muted("No paired devices."));
        return;
      }
      const me = gw.identity?.deviceId;
      const rows = devs.paired.map((d) => {
        const nameCell = h("td", null, h("strong", { text: d.label || d.displayName || shortId(d.deviceId) }), d.deviceId === me ? h("span", { class: "chip chip-me", text: "this browser" }) : null,
          h("div", { class: "small muted", text: shortId(d.deviceId, 12) }));
        const actions = h("td", { class: "actions" },
          button("Rename", () => {
            replace(nameCell, renameForm(d.label || d.displayName, (label) => act("device.pair.rename", { deviceId: d.deviceId, label }, "Renamed")));
          }, { class: "btn btn-small" }),
          (d.tokens || []).map((t) => button(`Revoke ${t.role} token`, async () => {
            if (!confirm(`Revoke the ${t.role} token of ${d.label || d.displayName || d.deviceId}? Its connections are closed.`)) return;
            await act("device.token.revoke", { deviceId: d.deviceId, role: t.role }, "Token revoked");
          }, { class: "btn btn-small" })),
          button("Remove", async () => {
            if (!confirm(`Remove ${d.label || d.displayName || d.deviceId}? It must pair again to reconnect.`)) return;
            await act("device.pair.remove", { deviceId: d.deviceId }, "Device removed");
          }, { class: "btn btn-small btn-danger" }));
        return h("tr", { data: { deviceId: d.deviceId } }, nameCell,
          h("td", { text: [d.platform, d.deviceFamily].filter(Boolean).join(" · ") || "—" }),
          h("td", { text: `${d.clientId || "?"}/${d.clientMode || "?"}` }),
          h("td", null, chips(d.roles), h("div", { class: "small" }, chips(d.scopes))),
          h("td", null, h("span", { class: ["dot", d.connected ? "dot-ok" : "dot-off"] }), d.connected ? "online" : d.lastSeenAtMs ? fmtAgo(d.lastSeenAtMs) : "—"),
          h("td", { text: d.approvedVia || "—" }),
          actions);
      });
      replace(paired, h("table", { class: "table" },
        h("thead", null, h("tr", null, ...["Device", "Platform", "Client", "Roles / scopes", "Seen", "Approved", ""].map((t) => h("th", { text: t })))),
        h("tbody", null, rows)));
    }

    function drawPendingNodes() {
      if (!nodePairs.pending.length) {
        replace(pendingNodes, null);
        return;
      }
      replace(pendingNodes, h("h3", { text: "Node capabilities" }), h("ul", { class: "cards" }, nodePairs.pending.map((p) => h("li", { class: "req", data: { requestId: p.requestId } },
        h("div", { class: "req-title" }, h("strong", { text: p.displayName || shortId(p.nodeId) }), " ", h("span", { class: "muted", text: [p.platform, p.version].filter(Boolean).join(" · ") })),
        h("div", { class: "small" }, "Capabilities: ", chips(p.caps)),
        h("div", { class: "small" }, "Commands: ", chips(p.commands)),
        p.requiredApproveScopes?.length ? h("div", { class: "small muted", text: "Needs " + p.requiredApproveScopes.join(", ") }) : null,
        h("div", { class: "actions" },
          button("Approve", () => act("node.pair.approve", { requestId: p.requestId }, "Node approved"), { class: "btn btn-primary", data: { action: "approve" } }),
          button("Reject", () => act("node.pair.reject", { requestId: p.requestId }, "Node rejected"), { class: "btn btn-danger", data: { action: "reject" } }))))));
    }

    function drawNodes() {
      if (!nodeList.length) {
        replace(nodes, muted("No nodes. Run `pincer node run` on a machine, or pair the phone app."));
        return;
      }
      replace(nodes, h("ul", { class: "cards" }, nodeList.map((n) => {
        const name = h("div", { class: "req-title" }, h("span", { class: ["dot", n.connected ? "dot-ok" : "dot-off"] }),
          h("strong", { text: n.displayName || shortId(n.nodeId) }), " ",
          h("span", { class: "muted", text: [n.platform, n.deviceFamily, n.version].filter(Boolean).join(" · ") }));
        const details = h("div", { class: "node-details" });
        return h("li", { class: "node", data: { nodeId: n.nodeId } }, name,
          h("div", { class: "small" }, `${n.approvalState || "?"} · ${n.connected ? "connected" : "last seen " + fmtAgo(n.lastSeenAtMs)}${n.remoteIp ? " · " + n.remoteIp : ""}`),
          h("div", { class: "small" }, "Capabilities: ", chips(n.caps)),
          n.pendingDeclaredCaps?.length ? h("div", { class: "small warn" }, "Awaiting approval: ", chips(n.pendingDeclaredCaps)) : null,
          h("div", { class: "actions" },
            button("Details", async () => {
              const d = await gw.request("node.describe", { nodeId: n.nodeId });
              replace(details, h("dl", { class: "kvs" },
                h("div", { class: "kv" }, h("dt", { text: "Node id" }), h("dd", { text: d.nodeId })),
                h("div", { class: "kv" }, h("dt", { text: "Commands" }), h("dd", null, chips(d.commands))),
                d.permissions ? h("div", { class: "kv" }, h("dt", { text: "Permissions" }), h("dd", null, chips(Object.entries(d.permissions).map(([k, v]) => `${k}: ${v ? "yes" : "no"}`)))) : null,
                h("div", { class: "kv" }, h("dt", { text: "Approved" }), h("dd", { text: fmtTime(d.approvedAtMs) }))));
            }, { class: "btn btn-small" }),
            button("Rename", () => {
              replace(name, renameForm(n.displayName, (displayName) => act("node.rename", { nodeId: n.nodeId, displayName }, "Renamed")));
            }, { class: "btn btn-small" })),
          details);
      })));
    }

    async function createSetupCode() {
      const params = {};
      const u = publicUrl.value.trim();
      if (u) params.publicUrl = u;
      try {
        const res = await gw.request("device.pair.setupCode", params);
        const code = h("code", { class: "setup-code-text", text: res.setupCode });
        code.hidden = true;
        const show = h("button", { type: "button", class: "btn btn-small", text: "Show code" });
        show.addEventListener("click", () => {
          code.hidden = !code.hidden;
          show.textContent = code.hidden ? "Show code" : "Hide code";
        });
        replace(setup,
          res.qrDataUrl ? h("img", { class: "qr", id: "setup-qr", src: res.qrDataUrl, alt: "Setup code QR" }) : null,
          h("p", { class: "small" }, `Gateway ${res.gatewayUrl} · expires ${fmtTime(res.expiresAtMs)}`),
          h("div", { class: "row" }, show), code);
      } catch (e) {
        replace(setup, h("p", { class: "error", id: "setup-error", text: errorText(e) }));
      }
    }

    async function refresh() {
      const [d, np, nl] = await Promise.allSettled([
        gw.request("device.pair.list", {}), gw.request("node.pair.list", {}), gw.request("node.list", {}),
      ]);
      if (d.status === "fulfilled") devs = { pending: d.value.pending || [], paired: d.value.paired || [] };
      else replace(pendingDevices, h("p", { class: "error", text: errorText(d.reason) }));
      if (np.status === "fulfilled") nodePairs = { pending: np.value.pending || [], paired: np.value.paired || [] };
      if (nl.status === "fulfilled") nodeList = nl.value.nodes || [];
      if (d.status === "fulfilled") {
        drawPendingDevices();
        drawPaired();
      }
      drawPendingNodes();
      drawNodes();
    }

    let timer = 0;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 150);
    };
    const offs = ["device.pair.requested", "device.pair.resolved", "device.pair.changed", "node.pair.requested", "node.pair.resolved", "presence"]
      .map((ev) => gw.on("event:" + ev, soon));
    return {
      refresh,
      unmount() {
        offs.forEach((f) => f());
        clearTimeout(timer);
      },
    };
  },
};
