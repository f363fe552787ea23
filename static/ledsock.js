// ledsock page: one card per light (a power button, a brightness slider, a colour or a white for a
// colour light, a sleep timer), each kept in sync with every other client over protocol v1
// (docs/protocol.md), a row that turns every light on or off, the scenes and the schedules.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const connection = $("connection");
  const errorBox = $("error");
  const scheduleList = $("schedule-list");
  const scheduleForm = $("schedule-form");
  const scheduleLight = $("schedule-light"); // only with several lights
  const schedules = new Map(); // "light/name" -> the newest schedule message
  const sceneList = $("scene-list");
  const sceneForm = $("scene-form");
  const scenes = new Map(); // name -> the newest scene message
  const tokenRequired = document.querySelector("main").dataset.tokenRequired === "true";
  const pageToken = new URLSearchParams(location.search).get("token");

  const BACKOFF_START_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const ERROR_SHOWN_MS = 5000;
  // A drag sends at most one set per 50 ms (20/s, whatever the screen's refresh rate),
  // aligned to an animation frame, and never while the previous set awaits its reply.
  const SEND_INTERVAL_MS = 50;
  // Buttons fade (a short fade reads as a lamp, not a jump); the slider never does, so
  // the LED follows a finger at once.
  const BUTTON_FADE_S = 0.4;
  // The sleep timer fades the light off over a minute: slow enough to notice and settle.
  const SLEEP_FADE_S = 60;
  // A colour picker or a white slider sends at most one colour per 100 ms while it moves.
  const TONE_INTERVAL_MS = 100;

  // "2700:#ffad59,2800:#ffb165,...": the whites of a colour light's range, as the server works them
  // out (the black body's colour at each temperature), for the slider's track and the glow.
  function readWhites(text) {
    return (text || "").split(",").filter(Boolean).map((entry) => {
      const [kelvin, hex] = entry.split(":");
      return { kelvin: Number(kelvin), hex };
    });
  }

  function whiteOf(whites, kelvin) {
    let nearest = whites[0];
    for (const white of whites) {
      if (Math.abs(white.kelvin - kelvin) < Math.abs(nearest.kelvin - kelvin)) nearest = white;
    }
    return nearest ? nearest.hex : null;
  }

  // The WebSocket lives next to the page: same host, same path prefix (works behind a proxy).
  // The page shows every light, the scenes and the schedules: it watches them all, so every state says its light.
  function socketUrl() {
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (pageToken) url.searchParams.set("token", pageToken);
    url.searchParams.set("watch", "schedules,lights,scenes");
    return url.href;
  }

  let socket = null;
  let attempt = 0;          // reconnect attempts since the last successful connection
  let countdown = null;     // interval that updates "Reconnecting in N s"
  let nextId = 1;
  let errorTimer = null;
  const replyTo = new Map(); // request id -> the card whose set it was

  function isOpen() {
    return socket !== null && socket.readyState === WebSocket.OPEN;
  }

  // Every request carries an id; a card's level sets are answered to that card.
  function send(message, card = null) {
    if (!isOpen()) return null;
    const id = `page-${nextId++}`;
    if (card !== null) replyTo.set(id, card);
    socket.send(JSON.stringify({ ...message, id }));
    return id;
  }

  // One light's card: its controls, what the server last said, and what the user wants.
  function makeCard(root) {
    const light = root.dataset.light;
    const part = (name) => root.querySelector(`[data-part="${name}"]`);
    const slider = part("level");
    const number = part("number");
    const shown = part("value");
    const led = part("led");
    const power = part("power");
    const sleepStatus = part("sleep-status");
    const sleepCancel = part("sleep-cancel");
    const sleepButtons = [...root.querySelectorAll(".sleep-after")];
    const effect = part("effect");
    const colorInput = part("color"); // an RGB light's
    const kelvinInput = part("kelvin"); // a CCT light's
    const toneValue = part("tone-value");
    const toneInput = colorInput || kelvinInput;
    const whites = readWhites(toneInput ? toneInput.dataset.whites : "");
    const controls = [slider, number, power, part("minus"), part("plus"), part("off"), part("full"), sleepCancel,
      effect, ...sleepButtons, ...(toneInput ? [toneInput] : [])];
    if (kelvinInput && whites.length > 1) { // the track shows the whites it sets, warm to cold
      const stops = whites.filter((white, index) => index % 5 === 0 || index === whites.length - 1);
      kelvinInput.style.setProperty("--track", `linear-gradient(to right, ${stops.map((w) => w.hex).join(", ")})`);
    }

    let server = null;        // newest state from the server: {level, on, brightness, seq}
    let desired = null;       // level the user wants; sent when nothing is in flight
    let desiredFade = 0;      // seconds the wanted level fades in (0 from the slider)
    let picture = 0;          // the level the LED picture shows now (animated during fades)
    let animation = null;     // the picture's fade: {from, to, start, ms}
    let lastSent = null;      // level of the newest set sent
    let inFlight = null;      // id of the set awaiting its reply
    let sendQueued = false;
    let lastSendAt = -Infinity;
    let dragging = false;
    let toneWanted = null;    // the colour the user picks: {color} or {kelvin}; sent when nothing is in flight
    let toneSent = null;      // JSON of the newest colour sent
    let toneInFlight = null;  // id of the colour set awaiting its reply
    let toneQueued = false;
    let toneHeld = false;     // a finger on the white slider

    // The slider and the number show the brightness (kept while off); the readout and the
    // picture show the level (0 while off).
    function render(level, brightness = level, on = level > 0, fadeSeconds = 0) {
      slider.value = String(brightness);
      shown.textContent = String(level);
      if (document.activeElement !== number) number.value = String(brightness);
      power.setAttribute("aria-pressed", String(on));
      power.textContent = on ? "On" : "Off";
      led.dataset.level = String(level);
      fadePicture(level, fadeSeconds);
    }

    function showPicture(level) {
      picture = level;
      led.style.setProperty("--level", String(level / 100));
    }

    // The picture fades as the LED does: the same ease (smoothstep) over the state's transition.
    // seconds: the fade's length; null keeps a fade already going to the same level.
    function fadePicture(to, seconds) {
      if (seconds === null && animation !== null && animation.to === to) return;
      if (!(seconds > 0) || matchMedia("(prefers-reduced-motion: reduce)").matches) {
        animation = null;
        showPicture(to);
        return;
      }
      const first = animation === null;
      animation = { from: picture, to, start: performance.now(), ms: seconds * 1000 };
      if (first) requestAnimationFrame(stepPicture);
    }

    function stepPicture(now) {
      if (animation === null) return;
      const t = Math.min(1, Math.max(0, (now - animation.start) / animation.ms));
      showPicture(animation.from + (animation.to - animation.from) * t * t * (3 - 2 * t));
      if (t >= 1) animation = null;
      else requestAnimationFrame(stepPicture);
    }

    // The user holds the level while dragging or while their own sets are on the way.
    function userHolds() {
      return dragging || inFlight !== null || (desired !== null && desired !== lastSent);
    }

    // "Off at 23:41" while a sleep timer runs (sleep_in: seconds left, counted on this clock).
    function renderSleep(sleepIn) {
      if (sleepIn > 0) {
        const at = new Date(Date.now() + sleepIn * 1000);
        sleepStatus.textContent = `Off at ${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
        sleepCancel.hidden = false;
      } else {
        sleepStatus.textContent = "";
        sleepCancel.hidden = true;
      }
    }

    // The colour a state says (a colour, or a white as the black body's), on the picture's glow
    // and on the card's control, unless the user is choosing one.
    function renderTone(message) {
      const shown = message.color || (message.kelvin ? whiteOf(whites, message.kelvin) : null);
      if (shown) led.style.setProperty("--glow", shown);
      if (!toneInput) return;
      toneValue.textContent = message.color || (message.kelvin ? `${message.kelvin} K` : "–");
      if (toneHeld || toneInFlight !== null || (toneWanted !== null && JSON.stringify(toneWanted) !== toneSent)) return;
      if (colorInput && shown) colorInput.value = shown;
      if (kelvinInput && message.kelvin) kelvinInput.value = String(message.kelvin);
    }

    function onState(message) {
      if (server !== null && message.seq < server.seq) return; // stale
      server = { level: message.level, on: message.on, brightness: message.brightness, seq: message.seq };
      renderTone(message);
      renderSleep(message.sleep_in || 0);
      effect.value = message.effect || ""; // the effect that runs, whoever started it
      led.dataset.effect = message.effect || "";
      if (!userHolds()) render(server.level, server.brightness, server.on, message.transition || 0);
    }

    // A message for this card has been handled: send what the user wants next, or show the server's.
    function settle() {
      if (inFlight !== null) return;
      if (desired !== null && desired !== lastSent) queueSend();
      else if (!dragging && server !== null) render(server.level, server.brightness, server.on, null);
    }

    function onReply(message) {
      if (message.id === inFlight) {
        inFlight = null;
        if (message.type === "error") desired = lastSent = null; // give the level back to the server
      }
      if (message.id === toneInFlight) {
        toneInFlight = null;
        if (message.type === "error") toneWanted = toneSent = null; // give the colour back to the server
        else if (toneWanted !== null && JSON.stringify(toneWanted) !== toneSent) queueTone();
      }
    }

    // A colour picker and a white slider send as the brightness slider does: the newest wish, one
    // at a time, at most one per TONE_INTERVAL_MS, and the last one always.
    function wantTone(tone) {
      toneWanted = tone;
      toneValue.textContent = tone.color || `${tone.kelvin} K`;
      led.style.setProperty("--glow", tone.color || whiteOf(whites, tone.kelvin));
      queueTone();
    }

    function queueTone() {
      if (toneQueued || toneInFlight !== null) return;
      toneQueued = true;
      setTimeout(() => {
        toneQueued = false;
        if (toneInFlight !== null || toneWanted === null || JSON.stringify(toneWanted) === toneSent) return;
        toneSent = JSON.stringify(toneWanted);
        toneInFlight = send({ light, ...toneWanted }, card);
      }, toneSent === null ? 0 : TONE_INTERVAL_MS);
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
      lastSent = desired;
      lastSendAt = performance.now();
      inFlight = send({ light, level: desired, transition: desiredFade }, card);
    }

    function want(level, fadeSeconds = 0) {
      const clamped = Math.max(0, Math.min(100, Math.round(level)));
      desired = clamped;
      desiredFade = fadeSeconds;
      render(clamped, clamped || (server ? server.brightness : 0), clamped > 0, fadeSeconds);
      queueSend();
    }

    // Power and Off send a command of their own: the brightness stays where it is.
    const sendCommand = (command) => send({ ...command, light, transition: BUTTON_FADE_S });
    const sendSleep = (after) => send({ type: "sleep", light, after, transition: SLEEP_FADE_S });

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
        if (server) number.value = String(server.brightness);
        return;
      }
      want(value, BUTTON_FADE_S);
    });
    const current = () => (desired !== null ? desired : Number(slider.value));
    part("minus").addEventListener("click", () => want(current() - 1, BUTTON_FADE_S));
    part("plus").addEventListener("click", () => want(current() + 1, BUTTON_FADE_S));
    part("off").addEventListener("click", () => sendCommand({ on: false }));
    part("full").addEventListener("click", () => want(100, BUTTON_FADE_S));
    power.addEventListener("click", () => sendCommand({ type: "toggle" }));
    for (const button of sleepButtons) {
      button.addEventListener("click", () => sendSleep(Number(button.dataset.minutes) * 60));
    }
    sleepCancel.addEventListener("click", () => sendSleep(null));
    // An effect starts from the level shown; "none" stops it (the light goes back to its level).
    effect.addEventListener("change", () => send({ light, effect: effect.value || null }));
    if (colorInput) {
      colorInput.addEventListener("input", () => wantTone({ color: colorInput.value }));
      colorInput.addEventListener("change", () => wantTone({ color: colorInput.value }));
    }
    if (kelvinInput) {
      kelvinInput.addEventListener("pointerdown", () => { toneHeld = true; });
      window.addEventListener("pointerup", () => { toneHeld = false; });
      window.addEventListener("pointercancel", () => { toneHeld = false; });
      kelvinInput.addEventListener("input", () => wantTone({ kelvin: Number(kelvinInput.value) }));
      kelvinInput.addEventListener("change", () => wantTone({ kelvin: Number(kelvinInput.value) }));
    }

    const card = {
      light,
      controls,
      onState,
      onReply,
      settle,
      reset() { // a new connection: the server sends every state next; seq restarts after a restart
        server = null;
        desired = lastSent = inFlight = null;
        toneWanted = toneSent = toneInFlight = null;
      },
      lost() { inFlight = toneInFlight = null; },
    };
    return card;
  }

  const cards = new Map([...document.querySelectorAll(".card[data-light]")].map((root) => {
    const card = makeCard(root);
    return [card.light, card];
  }));
  const everyLight = [...document.querySelectorAll("[data-all]")]; // with several lights
  const controls = [...[...cards.values()].flatMap((card) => card.controls), ...everyLight,
    ...scheduleForm.querySelectorAll("input, select, button"), ...sceneForm.querySelectorAll("input, button")];
  for (const button of everyLight) {
    button.addEventListener("click", () =>
      send({ light: "*", on: button.dataset.all === "on", transition: BUTTON_FADE_S }));
  }

  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
    const usable = state === "connected";
    for (const control of controls) control.disabled = !usable;
  }

  function showError(text) {
    errorBox.textContent = text;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { errorBox.textContent = ""; }, ERROR_SHOWN_MS);
  }

  // A lamp with a token: the page needs it in its address, and says so instead of retrying.
  function needToken(wrong) {
    clearInterval(countdown);
    setConnection("unauthorized", wrong ? "Wrong token" : "Token needed");
    clearTimeout(errorTimer);
    const example = new URL(location.href);
    example.search = "?token=YOUR_TOKEN";
    errorBox.textContent = wrong
      ? "The token in this page's address is not this lamp's. Check the ?token= part of the address."
      : `This lamp needs its token. Open the page with the token at the end of the address: ${example.href}`;
  }

  // The browser does not tell why a WebSocket failed; a plain GET of the same URL does
  // (401 when the token is wrong; 400 "not a WebSocket" when it is right).
  async function tokenRefused() {
    try {
      const url = new URL(socketUrl());
      url.protocol = location.protocol;
      return (await fetch(url, { cache: "no-store" })).status === 401;
    } catch {
      return false;
    }
  }

  function onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    const replied = message.id !== undefined ? replyTo.get(message.id) : undefined;
    if (replied !== undefined) {
      replyTo.delete(message.id);
      replied.onReply(message);
    }
    const card = cards.get(message.light) || replied;
    if (message.type === "state" && card) card.onState(message);
    else if (message.type === "schedule") { schedules.set(`${message.light}/${message.name}`, message); renderSchedules(); }
    else if (message.type === "schedule_deleted") { schedules.delete(`${message.light}/${message.name}`); renderSchedules(); }
    else if (message.type === "scene") { scenes.set(message.name, message); renderScenes(); }
    else if (message.type === "scene_deleted") { scenes.delete(message.name); renderScenes(); }
    else if (message.type === "error") showError(message.message);
    if (card) card.settle();
  }

  // One line per schedule: when, what, and a Delete button; built with textContent only.
  function describeSchedule(s) {
    const days = { daily: "every day", "mon,tue,wed,thu,fri": "Mon–Fri", "sat,sun": "weekends" }[s.days] || s.days;
    const when = s.at ? `${s.at.slice(0, 5)}, ${days}`
      : s.cron ? `cron ${s.cron}` : `${s.sun}${s.offset ? ` ${s.offset > 0 ? "+" : ""}${s.offset} min` : ""}, ${days}`;
    const what = s.level !== undefined ? (s.level ? `level ${s.level}` : "off")
      : s.on !== undefined ? (s.on ? "on" : "off") : `step ${s.step}`;
    const fade = s.transition ? `, fading ${Math.round(s.transition / 60)} min` : "";
    const whose = cards.size > 1 ? ` (${s.light})` : "";
    return `${s.name}${whose}: ${when} → ${what}${fade}`;
  }

  function renderSchedules() {
    const order = [...cards.keys()];
    const sorted = [...schedules.values()].sort((a, b) =>
      order.indexOf(a.light) - order.indexOf(b.light) || a.name.localeCompare(b.name));
    const items = sorted.map((s) => {
      const item = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = describeSchedule(s);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Delete";
      remove.setAttribute("aria-label", `Delete schedule ${s.name}${cards.size > 1 ? ` of ${s.light}` : ""}`);
      remove.addEventListener("click", () => send({ type: "unschedule", name: s.name, light: s.light }));
      item.append(text, remove);
      return item;
    });
    scheduleList.replaceChildren(...items);
  }

  // One line per scene: a button that brings it back, and a Delete button; textContent only.
  function renderScenes() {
    const items = [...scenes.values()].sort((a, b) => a.name.localeCompare(b.name)).map((s) => {
      const item = document.createElement("li");
      const recall = document.createElement("button");
      recall.type = "button";
      recall.textContent = s.name;
      recall.setAttribute("aria-label", `Scene ${s.name}: ${s.scene_lights.split(",").join(", ")}`);
      recall.addEventListener("click", () => send({ scene: s.name, transition: BUTTON_FADE_S }));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Delete";
      remove.setAttribute("aria-label", `Delete scene ${s.name}`);
      remove.addEventListener("click", () => send({ type: "delete_scene", name: s.name }));
      item.append(recall, remove);
      return item;
    });
    sceneList.replaceChildren(...items);
  }

  function connect() {
    clearInterval(countdown);
    setConnection(attempt === 0 ? "connecting" : "reconnecting", attempt === 0 ? "Connecting…" : "Reconnecting…");
    socket = new WebSocket(socketUrl());
    let opened = false;
    socket.onopen = () => {
      opened = true;
      attempt = 0;
      replyTo.clear();
      for (const card of cards.values()) card.reset();
      schedules.clear(); // the server sends every schedule after the states, then every scene
      renderSchedules();
      scenes.clear();
      renderScenes();
      setConnection("connected", "Connected");
    };
    socket.onmessage = onMessage;
    socket.onclose = async () => {
      socket = null;
      for (const card of cards.values()) card.lost();
      if (!opened && tokenRequired && await tokenRefused()) needToken(true);
      else scheduleReconnect();
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

  scheduleForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const fade = Number($("schedule-fade").value) * 60;
    send({ type: "schedule", name: $("schedule-name").value.trim(), at: $("schedule-at").value,
      ...(scheduleLight ? { light: scheduleLight.value } : { light: [...cards.keys()][0] }),
      days: $("schedule-days").value, level: Number($("schedule-level").value), ...(fade ? { transition: fade } : {}) });
  });

  sceneForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send({ type: "save_scene", name: $("scene-name").value.trim() });
  });

  window.addEventListener("online", () => {
    if (connection.dataset.state === "disconnected") connect();
  });

  if (tokenRequired && !pageToken) needToken(false);
  else connect();
})();
