// ledsock page: one slider kept in sync with every other client over protocol v1 (docs/protocol.md).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const slider = $("level");
  const number = $("level-number");
  const shown = $("value");
  const connection = $("connection");
  const led = $("led");
  const errorBox = $("error");
  const controls = [slider, number, $("minus"), $("plus"), $("off"), $("full")];

  const BACKOFF_START_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const ERROR_SHOWN_MS = 5000;
  // A drag sends at most one set per 50 ms (20/s, whatever the screen's refresh rate),
  // aligned to an animation frame, and never while the previous set awaits its reply.
  const SEND_INTERVAL_MS = 50;

  // The WebSocket lives next to the page: same host, same path prefix (works behind a proxy).
  function socketUrl() {
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const token = new URLSearchParams(location.search).get("token");
    if (token) url.searchParams.set("token", token);
    return url.href;
  }

  let socket = null;
  let attempt = 0;          // reconnect attempts since the last successful connection
  let countdown = null;     // interval that updates "Reconnecting in N s"
  let server = null;        // newest state from the server: {level, seq}
  let desired = null;       // level the user wants; sent when nothing is in flight
  let lastSent = null;      // level of the newest set sent
  let inFlight = null;      // id of the set awaiting its reply
  let sendQueued = false;
  let lastSendAt = -Infinity;
  let dragging = false;
  let nextId = 1;
  let errorTimer = null;

  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
    const usable = state === "connected";
    for (const control of controls) control.disabled = !usable;
  }

  function render(level) {
    slider.value = String(level);
    shown.textContent = String(level);
    if (document.activeElement !== number) number.value = String(level);
    led.style.setProperty("--level", String(level / 100));
    led.dataset.level = String(level);
  }

  // The user holds the level while dragging or while their own sets are on the way.
  function userHolds() {
    return dragging || inFlight !== null || (desired !== null && desired !== lastSent);
  }

  function showError(text) {
    errorBox.textContent = text;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { errorBox.textContent = ""; }, ERROR_SHOWN_MS);
  }

  function onState(message) {
    if (server !== null && message.seq < server.seq) return; // stale
    server = { level: message.level, seq: message.seq };
    if (!userHolds()) render(server.level);
  }

  function onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.id !== undefined && message.id === inFlight) {
      inFlight = null;
      if (message.type === "error") desired = lastSent = null; // give the level back to the server
    }
    if (message.type === "state") onState(message);
    else if (message.type === "error") showError(message.message);
    if (inFlight === null) {
      if (desired !== null && desired !== lastSent) queueSend();
      else if (!dragging && server !== null) render(server.level);
    }
  }

  function queueSend() {
    if (sendQueued) return;
    sendQueued = true;
    const wait = Math.max(0, lastSendAt + SEND_INTERVAL_MS - performance.now());
    setTimeout(() => requestAnimationFrame(() => {
      sendQueued = false;
      flush();
    }), wait);
  }

  function flush() {
    if (inFlight !== null || desired === null || desired === lastSent) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    inFlight = `page-${nextId++}`;
    lastSent = desired;
    lastSendAt = performance.now();
    socket.send(JSON.stringify({ level: desired, id: inFlight }));
  }

  function want(level) {
    const clamped = Math.max(0, Math.min(100, Math.round(level)));
    desired = clamped;
    render(clamped);
    queueSend();
  }

  function connect() {
    clearInterval(countdown);
    setConnection(attempt === 0 ? "connecting" : "reconnecting", attempt === 0 ? "Connecting…" : "Reconnecting…");
    socket = new WebSocket(socketUrl());
    socket.onopen = () => {
      attempt = 0;
      server = null; // the server sends its state next; seq restarts after a server restart
      desired = lastSent = inFlight = null;
      setConnection("connected", "Connected");
    };
    socket.onmessage = onMessage;
    socket.onclose = () => {
      socket = null;
      inFlight = null;
      scheduleReconnect();
    };
  }

  // Exponential backoff from 0.5 s to 10 s, each wait drawn from its upper half (jitter).
  // While the device is offline there is nothing to try: wait for it to come back.
  function scheduleReconnect() {
    if (navigator.onLine === false) {
      setConnection("disconnected", "Disconnected (offline)");
      clearInterval(countdown);
      countdown = setInterval(() => { if (navigator.onLine !== false) connect(); }, 1000);
      return;
    }
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** attempt);
    const wait = ceiling / 2 + Math.random() * ceiling / 2;
    attempt += 1;
    const due = Date.now() + wait;
    const tick = () => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setConnection("reconnecting", `Reconnecting in ${left} s…`);
    };
    tick();
    clearInterval(countdown);
    countdown = setInterval(tick, 250);
    setTimeout(connect, wait);
  }

  slider.addEventListener("pointerdown", () => { dragging = true; });
  window.addEventListener("pointerup", () => {
    if (!dragging) return;
    dragging = false;
    want(Number(slider.value)); // the final value is always sent on release
  });
  window.addEventListener("pointercancel", () => { dragging = false; });
  slider.addEventListener("input", () => want(Number(slider.value)));
  slider.addEventListener("change", () => want(Number(slider.value)));
  number.addEventListener("change", () => {
    const value = Number(number.value);
    if (number.value === "" || !Number.isInteger(value) || value < 0 || value > 100) {
      showError("Enter a whole number from 0 to 100.");
      if (server) number.value = String(server.level);
      return;
    }
    want(value);
  });
  const current = () => (desired !== null ? desired : Number(slider.value));
  $("minus").addEventListener("click", () => want(current() - 1));
  $("plus").addEventListener("click", () => want(current() + 1));
  $("off").addEventListener("click", () => want(0));
  $("full").addEventListener("click", () => want(100));

  window.addEventListener("online", () => {
    if (connection.dataset.state === "disconnected") connect();
  });

  connect();
})();
