// The A2UI page: streams an agent's surfaces from the gateway and posts the
// user's actions back. URLs are relative so that a capability URL prefix
// (/__openclaw__/cap/<token>/…) is kept.
import { A2UIRenderer } from "./a2ui.bundle.js";

const agent = new URLSearchParams(location.search).get("agent") || "main";
const q = "?agent=" + encodeURIComponent(agent);
const root = document.getElementById("surfaces");
const empty = document.getElementById("empty");
const status = document.getElementById("status");
const toast = document.getElementById("toast");
document.title = `Canvas · ${agent}`;

function setState(state, label) {
  document.body.dataset.state = state;
  status.textContent = label;
}

let toastTimer = 0;
function notify(message, isError) {
  toast.textContent = message;
  toast.classList.toggle("a2ui-toast-error", Boolean(isError));
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, isError ? 6000 : 2000);
}

async function sendAction(userAction) {
  try {
    const res = await fetch("action" + q, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ userAction }),
      credentials: "same-origin",
    });
    if (res.status === 401) {
      notify("This page's access expired. Ask the agent to show the canvas again.", true);
      return;
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      notify(body?.error?.message || `The action failed (${res.status}).`, true);
      return;
    }
    document.body.dataset.lastRunId = body.runId || "";
    notify("Sent to the agent.");
  } catch (err) {
    notify(`The action could not be sent: ${err}`, true);
  }
}

const renderer = new A2UIRenderer(root, { onAction: sendAction });
root.addEventListener("a2ui-change", (e) => { empty.hidden = e.detail.surfaces > 0; });
window.pincerA2UI = renderer;

const es = new EventSource("stream" + q);
es.addEventListener("open", () => setState("connected", "Live"));
es.addEventListener("snapshot", (e) => renderer.reset(JSON.parse(e.data)));
es.addEventListener("a2ui", (e) => {
  try {
    renderer.apply(JSON.parse(e.data));
  } catch (err) {
    console.error("A2UI message failed", err);
  }
});
es.addEventListener("error", () => {
  if (es.readyState === EventSource.CLOSED) setState("closed", "Disconnected — reload the page or ask the agent to show it again");
  else setState("reconnecting", "Reconnecting…");
});
