"use strict";
(() => {
  const slider = document.getElementById("level");
  const shown = document.getElementById("value");
  const status = document.getElementById("status");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws`);
  ws.onopen = () => { status.textContent = "connected"; slider.disabled = false; };
  ws.onclose = () => { status.textContent = "disconnected"; slider.disabled = true; };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "state") { slider.value = msg.level; shown.textContent = msg.level; }
  };
  slider.oninput = () => ws.send(JSON.stringify({ level: Number(slider.value) }));
})();
