// The ticket status page: place and wait pushed by the server (SSE); a new state reloads
// the page so its buttons match. Without JavaScript the page is still right when loaded.
"use strict";
(function () {
  const root = document.getElementById("status");
  const linkState = document.getElementById("link-state");
  const events = new EventSource(root.dataset.live);
  events.addEventListener("ticket", (ev) => {
    const t = JSON.parse(ev.data);
    if (t.state !== root.dataset.state) {
      events.close();
      location.reload();
      return;
    }
    document.getElementById("ahead").textContent = t.ahead_text;
    document.getElementById("eta").textContent = t.eta_text;
    root.dataset.ahead = t.ahead === null ? "" : String(t.ahead);
  });
  events.onopen = () => { linkState.hidden = true; root.dataset.connected = "1"; };
  events.onerror = () => {
    linkState.textContent = linkState.dataset.offline;
    linkState.hidden = false;
  };
})();
