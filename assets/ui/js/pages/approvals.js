// Approvals: exec approval requests as they arrive, with their command and
// context, decided here.

import { h, replace, fmtTime, errorText, button, muted } from "../dom.js";

const LABELS = { "allow-once": "Allow once", "allow-always": "Always allow", deny: "Deny" };

export default {
  id: "approvals",
  path: "/approvals",
  title: "Approvals",
  mount(el, { gw }) {
    const list = h("div", { id: "approval-list" });
    const recent = h("ul", { class: "plain small", id: "approval-recent" });
    replace(el, h("h1", { text: "Approvals" }),
      h("div", { class: "card" }, h("h2", { text: "Waiting" }), list),
      h("div", { class: "card" }, h("h2", { text: "Decided here" }), recent));

    const pending = new Map(); // id -> entry

    function remaining(e) {
      const s = Math.max(0, Math.round((e.expiresAtMs - Date.now()) / 1000));
      return s ? `expires in ${s}s` : "expired";
    }

    function draw() {
      if (!pending.size) {
        replace(list, muted("Nothing is waiting for approval."));
        return;
      }
      const items = [...pending.values()].sort((a, b) => a.createdAtMs - b.createdAtMs);
      replace(list, h("ul", { class: "cards" }, items.map((e) => {
        const r = e.request || {};
        const decisions = r.allowedDecisions?.length ? r.allowedDecisions : ["allow-once", "allow-always", "deny"];
        return h("li", { class: "req approval", data: { id: e.id } },
          h("pre", { class: "approval-command", text: r.command || (r.commandArgv || []).join(" ") || "(no command)" }),
          h("div", { class: "small" }, [
            r.cwd ? `in ${r.cwd}` : null, r.host ? `host ${r.host}` : null, r.nodeId ? `node ${r.nodeId}` : null,
            r.agentId ? `agent ${r.agentId}` : null, r.sessionKey ? `session ${r.sessionKey}` : null,
          ].filter(Boolean).join(" · ")),
          r.warningText ? h("div", { class: "small warn", text: r.warningText }) : null,
          (r.commandAnalysis?.warningLines || []).map((w) => h("div", { class: "small warn", text: w })),
          h("div", { class: "small muted expiry", data: { expires: e.expiresAtMs }, text: `asked ${fmtTime(e.createdAtMs)} · ${remaining(e)}` }),
          h("div", { class: "actions" }, decisions.map((d) => button(LABELS[d] || d, async () => {
            await gw.request("exec.approval.resolve", { id: e.id, decision: d });
            pending.delete(e.id);
            recent.prepend(h("li", { text: `${fmtTime(Date.now())} ${LABELS[d] || d}: ${r.command || e.id}` }));
            draw();
          }, { class: d === "deny" ? "btn btn-danger" : d === "allow-once" ? "btn btn-primary" : "btn", data: { decision: d } }))));
      })));
    }

    async function refresh() {
      try {
        const res = await gw.request("exec.approval.list", {});
        pending.clear();
        for (const e of Array.isArray(res) ? res : []) pending.set(e.id, e);
        draw();
      } catch (e) {
        replace(list, h("p", { class: "error", text: errorText(e) }));
      }
    }

    const offs = [
      gw.on("event:exec.approval.requested", (p) => {
        if (!p?.id) return;
        pending.set(p.id, p);
        draw();
      }),
      gw.on("event:exec.approval.resolved", (p) => {
        if (!p?.id || !pending.has(p.id)) return;
        pending.delete(p.id);
        recent.prepend(h("li", { text: `${fmtTime(p.ts || Date.now())} ${LABELS[p.decision] || p.decision || "expired"} by ${p.resolvedBy || "?"}: ${p.request?.command || p.id}` }));
        draw();
      }),
    ];
    const clock = setInterval(() => {
      for (const node of list.querySelectorAll(".expiry")) {
        const e = pending.get(node.closest(".approval")?.dataset.id);
        if (e) node.textContent = `asked ${fmtTime(e.createdAtMs)} · ${remaining(e)}`;
      }
    }, 1000);
    return {
      refresh,
      unmount() {
        offs.forEach((f) => f());
        clearInterval(clock);
      },
    };
  },
};
