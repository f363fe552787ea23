"""The page in a real browser: headless Debian Chromium driven by Playwright."""

import json
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from support import CHROMIUM, CHROMIUM_ARGS, Client

# Counts what the page sends by wrapping its WebSocket (the page itself is not changed).
WRAP_WEBSOCKET = """
window.__ws = { sockets: [], sent: [], received: [] };
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    window.__ws.sockets.push(this);
    // Registered before the page's own handler, which runs next in the same event.
    this.addEventListener("message", (e) => window.__ws.received.push(String(e.data)));
  }
  send(data) { window.__ws.sent.push(String(data)); return super.send(data); }
};
"""


@pytest.fixture(scope="session")
def browser():
    assert Path(CHROMIUM).exists(), (
        f"Chromium is missing at {CHROMIUM}: `make test` installs it "
        "(sudo apt-get install --no-install-recommends chromium)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """One page of the service, with everything it logged and requested."""

    def __init__(self, browser, url, **context_options):
        self.context = browser.new_context(**context_options)
        self.page = self.context.new_page()
        self.console_errors, self.requests = [], []
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.add_init_script(WRAP_WEBSOCKET)
        self.page.goto(url)
        expect(self.page.locator("#connection")).to_have_text("Connected")

    def level(self) -> str:
        return self.page.locator("#value").text_content()

    def sent_sets(self) -> list[str]:
        return [m for m in self.page.evaluate("window.__ws.sent") if '"level"' in m]


@pytest.fixture
def open_tab(browser):
    tabs = []

    def open_tab(server, **context_options):
        tab = Tab(browser, server.http + "/", **context_options)
        tabs.append(tab)
        return tab

    yield open_tab
    for tab in tabs:
        tab.context.close()


def test_two_pages_stay_in_sync_both_ways(server, open_tab):
    a, b = open_tab(server), open_tab(server)
    expect(a.page.locator("#value")).to_have_text("50")
    a.page.locator("#level").fill("30")
    expect(b.page.locator("#value")).to_have_text("30")
    expect(b.page.locator("#level")).to_have_value("30")
    b.page.locator("#level").focus()
    for _ in range(3):
        b.page.keyboard.press("ArrowRight")
    expect(a.page.locator("#value")).to_have_text("33")
    expect(a.page.locator("#level")).to_have_value("33")
    assert server.get("/led")["level"] == 33
    b.page.get_by_role("button", name="Off").click()
    expect(a.page.locator("#value")).to_have_text("0")
    a.page.get_by_role("button", name="Full").click()
    expect(b.page.locator("#value")).to_have_text("100")
    a.page.get_by_role("button", name="Dimmer by 1").click()
    expect(b.page.locator("#value")).to_have_text("99")
    b.page.locator("#level-number").fill("42")
    b.page.locator("#level-number").press("Enter")
    expect(a.page.locator("#value")).to_have_text("42")
    for tab in (a, b):
        assert tab.console_errors == []
        origin = f"127.0.0.1:{server.port}"
        assert tab.requests and all(urlsplit(url).netloc == origin for url in tab.requests), tab.requests


def test_the_led_picture_follows_the_level(server, open_tab):
    tab = open_tab(server)
    for level in (0, 37, 100):
        server.post("/led", f'{{"level": {level}}}')
        tab.page.wait_for_function(
            "want => getComputedStyle(document.getElementById('led-glow')).opacity === want",
            arg=str(level / 100 if level not in (0, 100) else level // 100),
        )
        assert tab.page.locator("#led").get_attribute("data-level") == str(level)


def test_the_page_shows_whether_the_led_is_real_and_which_pin(server, open_tab):
    tab = open_tab(server)
    expect(tab.page.locator("h1")).to_have_text("LED on GPIO 21")
    expect(tab.page.locator("#hardware")).to_have_text("Simulated LED")
    expect(tab.page.get_by_role("slider", name="Brightness")).to_be_enabled()
    expect(tab.page.get_by_label("Exact brightness, 0 to 100")).to_have_value("50")


def test_pages_reconnect_after_a_restart_and_show_what_changed_meanwhile(start_server, open_tab):
    server = start_server()
    a, b = open_tab(server), open_tab(server)
    server.stop()
    for tab in (a, b):
        expect(tab.page.locator("#connection")).to_have_attribute("data-state", "reconnecting", timeout=2000)
        expect(tab.page.locator("#connection")).to_contain_text("Reconnecting")
        expect(tab.page.locator("#level")).to_be_disabled()
        expect(tab.page.get_by_role("button", name="Full")).to_be_disabled()
    restarted = start_server(port=server.port)
    assert restarted.post("/led", '{"level": 77}') == (200, {"level": 77, "on": True, "brightness": 77, "seq": 1})
    for tab in (a, b):  # the page's backoff waits up to 10 s between attempts
        expect(tab.page.locator("#value")).to_have_text("77", timeout=12000)
        expect(tab.page.locator("#connection")).to_have_text("Connected")
        expect(tab.page.locator("#level")).to_be_enabled()


def slider_x(box, value):
    return box["x"] + box["width"] * value / 100


def test_a_drag_across_100_values_is_coalesced_and_ends_on_the_final_value(server, open_tab):
    tab = open_tab(server)
    slider = tab.page.locator("#level")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    tab.page.mouse.move(box["x"] + 1, y)
    tab.page.mouse.down()
    started = time.monotonic()
    for value in range(101):  # Chromium delivers these one per frame, like a finger at 60 Hz
        tab.page.mouse.move(slider_x(box, value), y)
    tab.page.mouse.move(box["x"] + box["width"] + 20, y)
    tab.page.mouse.up()
    took = time.monotonic() - started
    expect(tab.page.locator("#value")).to_have_text("100")
    sets = tab.sent_sets()
    print(f"a drag across 100 values in {took:.2f} s sent {len(sets)} sets ({len(sets) / took:.0f}/s)")
    assert 1 <= len(sets) <= 50
    assert len(sets) / took <= 25
    assert json.loads(sets[-1])["level"] == 100
    assert all(json.loads(m)["transition"] == 0 for m in sets), sets  # a drag never fades
    server.wait_for(lambda h: h["level"] == 100, what="the final value at the server")
    expect(slider).to_have_value("100")


def test_the_thumb_is_not_pulled_from_under_a_finger(server, open_tab):
    tab = open_tab(server)
    slider = tab.page.locator("#level")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    tab.page.mouse.move(slider_x(box, 50), y)
    tab.page.mouse.down()
    tab.page.mouse.move(slider_x(box, 60), y, steps=5)
    held = slider.input_value()
    status, body = server.post("/led", '{"level": 5}')  # someone else moves it meanwhile
    assert (status, body["level"]) == (200, 5)
    # The page has handled that state once it has received it (its handler runs in the same event).
    # A function, not a bare expression: Playwright would eval() an expression when it polls,
    # and the page's Content-Security-Policy forbids eval.
    tab.page.wait_for_function(
        "() => window.__ws.received.some(m => { const s = JSON.parse(m); return s.type === 'state' && s.level === 5; })"
    )
    assert slider.input_value() == held
    tab.page.mouse.move(slider_x(box, 70), y, steps=5)
    final = slider.input_value()
    tab.page.mouse.up()
    expect(tab.page.locator("#value")).to_have_text(final)
    server.wait_for(lambda h: h["level"] == int(final), what="the released value at the server")
    expect(slider).to_have_value(final)


def test_error_replies_are_shown_in_a_live_region(server, open_tab):
    tab = open_tab(server)
    tab.page.evaluate("window.__ws.sockets.at(-1).send('{\"level\": 150}')")
    error = tab.page.locator("#error")
    expect(error).to_have_text("level must be an integer from 0 to 100, got 150")
    assert error.get_attribute("aria-live") == "polite"
    expect(error).to_have_text("", timeout=8000)  # shown briefly
    tab.page.locator("#level-number").fill("500")
    tab.page.locator("#level-number").press("Enter")
    expect(error).to_contain_text("0 to 100")
    assert server.get("/led")["level"] == 50


def test_fits_a_phone_and_follows_the_dark_theme(server, open_tab):
    phone = open_tab(
        server, viewport={"width": 360, "height": 740}, color_scheme="dark", is_mobile=True, has_touch=True
    )
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 360
    dark = phone.page.evaluate("getComputedStyle(document.body).backgroundColor")
    light = open_tab(server, color_scheme="light").page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark != light
    assert dark == "rgb(18, 18, 20)"
    slider = phone.page.locator("#level")
    box = slider.bounding_box()
    slider.tap(position={"x": box["width"] * 0.8, "y": box["height"] / 2})
    expect(phone.page.locator("#value")).not_to_have_text("50")
    tapped = int(phone.level())
    assert 70 <= tapped <= 90
    server.wait_for(lambda h: h["level"] == tapped, what="the tapped value at the server")


def test_the_page_is_served_with_a_strict_content_security_policy(server):
    import urllib.request

    with urllib.request.urlopen(server.http + "/") as response:
        policy = response.headers["Content-Security-Policy"]
        body = response.read().decode()
    assert "default-src 'self'" in policy and f"ws://127.0.0.1:{server.port}" in policy
    assert "<script>" not in body and "style=" not in body and "innerHTML" not in Path("static/ledsock.js").read_text()


def test_offline_shows_disconnected_and_reconnects_when_back_online(server, open_tab):
    tab = open_tab(server)
    tab.context.set_offline(True)
    tab.page.evaluate("window.__ws.sockets.at(-1).close()")  # offline: the socket drops
    # Offline, the close handshake cannot finish: the browser ends it by its own timeout, which a
    # loaded machine (the suite on three workers) can stretch past expect's default 5 s.
    expect(tab.page.locator("#connection")).to_have_attribute("data-state", "disconnected", timeout=20_000)
    expect(tab.page.locator("#connection")).to_have_text("Disconnected (offline)")
    expect(tab.page.locator("#level")).to_be_disabled()
    server.post("/led", '{"level": 64}')
    tab.context.set_offline(False)
    expect(tab.page.locator("#connection")).to_have_text("Connected")
    expect(tab.page.locator("#value")).to_have_text("64")


def test_the_page_works_behind_a_tls_proxy_under_a_path_prefix(server, browser):
    from tls_proxy import TlsPrefixProxy

    proxy = TlsPrefixProxy(server.port, "/lamp")
    tab = Tab(browser, proxy.url, ignore_https_errors=True)  # waits for "Connected"
    sockets = tab.page.evaluate("window.__ws.sockets.map(s => s.url)")
    assert sockets == [
        f"wss://127.0.0.1:{proxy.port}/lamp/ws?watch=schedules%2Clights%2Cscenes"
    ]  # next to the page, asking for schedules and every light
    tab.page.locator("#level").fill("21")
    server.wait_for(lambda h: h["level"] == 21, what="the set through the proxy")
    server.post("/led", '{"level": 84}')
    expect(tab.page.locator("#value")).to_have_text("84")
    assert all(path.startswith("/lamp/") for path in proxy.paths), proxy.paths
    assert tab.console_errors == []
    tab.context.close()
    proxy.close()


def test_the_page_forwards_the_token_it_was_opened_with(start_server, browser):
    server = start_server(env={"LED_TOKEN": "s3cret"})
    tab = Tab(browser, server.http + "/?token=s3cret")
    tab.page.locator("#level").fill("12")
    server.wait_for(lambda h: h["level"] == 12, what="the page's set to arrive")
    assert tab.console_errors == []
    tab.context.close()


@pytest.mark.parametrize("width", [320, 360])
def test_on_a_narrow_phone_every_control_fits_and_no_row_wraps_a_button_alone(server, open_tab, width):
    with Client(server.ws_url) as setup:
        setup.recv()
        setup.request(
            {
                "type": "schedule",
                "name": "a very long schedule name",
                "cron": "30 23 * * 1-5",
                "level": 100,
                "transition": 1200,
                "id": 1,
            }
        )
        setup.request({"type": "sleep", "after": 1800, "id": 2})  # its Cancel button shows too
    tab = open_tab(server, viewport={"width": width, "height": 800})
    expect(tab.page.locator("#schedule-list li")).to_have_count(1)
    expect(tab.page.locator("#sleep-cancel")).to_be_visible()
    layout = tab.page.evaluate("""() => {
      const box = (el) => el.getBoundingClientRect();
      const shown = [...document.querySelectorAll("button, input, select")].filter((el) => el.offsetParent);
      return {
        page: [document.documentElement.scrollWidth, innerWidth],
        outside: shown.filter((el) => box(el).left < 0 || box(el).right > innerWidth).map((el) => el.outerHTML),
        clipped: shown.filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent),
        rows: {
          sleep: [...document.querySelectorAll(".sleep button")]
            .filter((el) => el.offsetParent).map((el) => box(el).top),
          fine: [...document.querySelectorAll(".fine > *")].map((el) => box(el).top),
        },
      };
    }""")
    assert layout["page"][0] <= layout["page"][1], layout  # no sideways scrolling
    assert layout["outside"] == [] and layout["clipped"] == [], layout
    assert len(layout["rows"]["sleep"]) == 4 and len(set(layout["rows"]["sleep"])) == 1, layout  # 15/30/60, Cancel
    assert len(set(layout["rows"]["fine"])) == 1, layout  # Off, -, the number, +, Full


def test_the_page_says_a_token_is_needed_and_when_it_is_wrong(start_server, browser):
    server = start_server(env={"LED_TOKEN": "s3cret"})
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(server.http + "/")
        expect(page.locator("#connection")).to_have_text("Token needed")
        expect(page.locator("#error")).to_contain_text(f"{server.http}/?token=YOUR_TOKEN")
        page.goto(server.http + "/?token=wrong")
        expect(page.locator("#connection")).to_have_text("Wrong token")
        expect(page.locator("#error")).to_contain_text("not this lamp's")
        expect(page.locator("#level")).to_be_disabled()
    finally:
        context.close()


def test_make_screenshot_photographs_a_phone_and_a_desktop(tmp_path):
    import struct
    import subprocess
    import sys

    out = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "tools/screenshot.py", str(out)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack("!II", png[16:24]) == (1464, 780)  # a 360 px phone and a 1024 px desktop
    assert len(png) > 50_000  # two photographed pages, not an empty sheet


def test_the_power_button_keeps_the_brightness(server, open_tab):
    tab = open_tab(server)
    server.post("/led", '{"level": 70}')
    expect(tab.page.locator("#value")).to_have_text("70")
    power = tab.page.get_by_role("button", name="Power")
    expect(power).to_have_attribute("aria-pressed", "true")
    power.click()
    server.wait_for(lambda h: h["on"] is False and h["shown"] == 0, what="off, faded out")
    assert server.led() == {"level": 0, "on": False, "brightness": 70, "seq": 2}
    expect(power).to_have_attribute("aria-pressed", "false")
    expect(tab.page.locator("#value")).to_have_text("0")
    expect(tab.page.locator("#level")).to_have_value("70")  # the slider keeps the brightness
    power.click()
    server.wait_for(lambda h: h["on"] is True and h["shown"] == 70, what="on again at 70")
    expect(tab.page.locator("#value")).to_have_text("70")
    sent = [json.loads(m) for m in tab.page.evaluate("window.__ws.sent")]
    assert [m.get("type") for m in sent if "level" not in m] == ["toggle", "toggle"]
    assert tab.console_errors == []


def test_a_fade_from_another_client_animates_the_picture_to_its_end(server, open_tab):
    tab = open_tab(server)
    expect(tab.page.locator("#value")).to_have_text("50")
    picture = "() => Number(getComputedStyle(document.getElementById('led')).getPropertyValue('--level'))"
    with Client(server.ws_url) as other:
        other.recv()
        other.send({"level": 100, "transition": 1.5})
        samples = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not samples or samples[-1] < 1):
            samples.append(tab.page.evaluate(picture))
            time.sleep(0.05)
    assert samples[-1] == 1 and tab.page.locator("#led").get_attribute("data-level") == "100"
    between = [v for v in samples if 0.5 < v < 1]
    assert len(between) >= 5, samples  # it moved through the levels between, not in a jump
    assert samples == sorted(samples), samples


def test_the_sleep_buttons_set_and_cancel_the_timer_on_every_page(server, open_tab):
    a, b = open_tab(server), open_tab(server)
    expect(b.page.locator("#sleep-status")).to_have_text("")
    expect(b.page.get_by_role("button", name="Cancel")).to_be_hidden()
    a.page.get_by_role("button", name="30 min").click()
    for tab in (a, b):
        expect(tab.page.locator("#sleep-status")).to_have_text(re.compile(r"^Off at \d"))
        expect(tab.page.get_by_role("button", name="Cancel")).to_be_visible()
    health = server.get("/healthz")
    assert 1790 < health["sleep_in"] <= 1800 and health["on"] is True
    b.page.get_by_role("button", name="Cancel").click()
    for tab in (a, b):
        expect(tab.page.locator("#sleep-status")).to_have_text("")
        expect(tab.page.get_by_role("button", name="Cancel")).to_be_hidden()
    assert "sleep_in" not in server.get("/healthz")
    sent = [json.loads(m) for m in a.page.evaluate("window.__ws.sent") + b.page.evaluate("window.__ws.sent")]
    assert [(m["after"], m["transition"]) for m in sent if m.get("type") == "sleep"] == [(1800, 60), (None, 60)]
    assert a.console_errors == b.console_errors == []


def test_a_schedule_added_on_one_page_shows_on_both_and_is_deleted_from_the_other(server, open_tab):
    a, b = open_tab(server), open_tab(server)
    form = a.page.locator("#schedule-form")
    form.get_by_label("Name").fill("wake")
    form.get_by_label("At").fill("06:45")
    form.get_by_label("Days").select_option("mon-fri")
    form.get_by_label("Level").fill("80")
    form.get_by_label("Fade (minutes)").fill("20")
    form.get_by_role("button", name="Add").click()
    for tab in (a, b):
        expect(tab.page.locator("#schedule-list li")).to_have_count(1)
        expect(tab.page.locator("#schedule-list li")).to_contain_text("wake: 06:45, Mon–Fri → level 80, fading 20 min")
    assert server.get("/schedules")[0] | {"next_at": 0} == {
        "name": "wake",
        "at": "06:45",
        "days": "mon,tue,wed,thu,fri",
        "level": 80,
        "transition": 1200.0,
        "next_at": 0,
    }
    b.page.get_by_role("button", name="Delete schedule wake").click()
    for tab in (a, b):
        expect(tab.page.locator("#schedule-list li")).to_have_count(0)
    assert server.get("/schedules") == []
    assert a.console_errors == b.console_errors == []


# ---------------------------------------------------------------- several lights


def card(tab, light, part):
    return tab.page.locator(f'.card[data-light="{light}"] [data-part="{part}"]')


def test_each_light_has_a_card_that_shows_and_drives_it(start_server, open_tab):
    server = start_server(env={"LIGHTS": "desk:21,shelf:20,status:16"})
    a, b = open_tab(server), open_tab(server)
    expect(a.page.locator(".card-title")).to_have_text(
        [re.compile(r"^desk GPIO 21"), re.compile(r"^shelf GPIO 20"), re.compile(r"^status GPIO 16")]
    )
    for light in ("desk", "shelf", "status"):
        expect(card(a, light, "value")).to_have_text("50")
    card(a, "shelf", "full").click()
    expect(card(b, "shelf", "value")).to_have_text("100")
    server.post("/lights/status", '{"level": 7}')  # another door, another light
    expect(card(a, "status", "value")).to_have_text("7")
    expect(card(b, "status", "level")).to_have_value("7")
    card(b, "desk", "power").click()
    expect(card(a, "desk", "value")).to_have_text("0")
    assert [(s["light"], s["level"]) for s in server.get("/lights")] == [("desk", 0), ("shelf", 100), ("status", 7)]
    for light, level in (("desk", "0"), ("shelf", "100"), ("status", "7")):  # nothing crossed to another card
        expect(card(a, light, "value")).to_have_text(level)
        expect(card(b, light, "value")).to_have_text(level)
    a.page.locator('.card[data-light="status"] .sleep-after[data-minutes="15"]').click()
    expect(card(b, "status", "sleep-status")).to_contain_text("Off at")
    expect(card(b, "shelf", "sleep-status")).to_have_text("")
    a.page.locator("#schedule-name").fill("night")
    a.page.locator("#schedule-light").select_option("shelf")
    a.page.locator("#schedule-at").fill("23:30")
    a.page.locator("#schedule-level").fill("0")
    a.page.locator("#schedule-add").click()
    expect(b.page.locator("#schedule-list li")).to_have_text([re.compile(r"^night \(shelf\): 23:30")])
    assert [s["name"] for s in server.get("/lights/shelf/schedules")] == ["night"]
    b.page.get_by_role("button", name="Delete schedule night of shelf").click()
    expect(a.page.locator("#schedule-list li")).to_have_count(0)
    for tab in (a, b):
        assert tab.console_errors == []


@pytest.mark.parametrize("width", [320, 360])
def test_on_a_narrow_phone_every_card_stays_usable(start_server, open_tab, width):
    server = start_server(env={"LIGHTS": "desk:21,shelf:20,a-long-light-name_0123456789abcd:16"})
    tab = open_tab(server, viewport={"width": width, "height": 800})
    layout = tab.page.evaluate("""() => {
      const box = (el) => el.getBoundingClientRect();
      const shown = [...document.querySelectorAll("button, input, select, h2")].filter((el) => el.offsetParent);
      return {
        page: [document.documentElement.scrollWidth, innerWidth],
        outside: shown.filter((el) => box(el).left < 0 || box(el).right > innerWidth).map((el) => el.outerHTML),
        clipped: shown.filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent),
        cards: [...document.querySelectorAll(".card")].map((c) => ({
          sleep: [...c.querySelectorAll(".sleep button")].filter((el) => el.offsetParent).map((el) => box(el).top),
          fine: [...c.querySelectorAll(".fine > *")].map((el) => box(el).top),
        })),
      };
    }""")
    assert layout["page"][0] <= layout["page"][1], layout  # no sideways scrolling
    assert layout["outside"] == [] and layout["clipped"] == [], layout
    assert len(layout["cards"]) == 3
    for rows in layout["cards"]:
        assert len(set(rows["sleep"])) == 1 and len(set(rows["fine"])) == 1, layout
    card(tab, "a-long-light-name_0123456789abcd", "plus").click()
    server_level = server.wait_for(lambda h: h["lights"][2]["level"] == 51, what="the third card's +")
    assert server_level["lights"][0]["level"] == 50


COLOUR_LIGHTS = "desk:21,strip:rgb:17/27/22,bulb:cct:18/19"


def glow(tab, light):
    return tab.page.evaluate(
        f"getComputedStyle(document.querySelector('.card[data-light=\"{light}\"] .led')).getPropertyValue('--glow')"
    ).strip()


def test_colour_and_white_cards_drive_their_lights_across_two_tabs_side_by_side(start_server, open_tab):
    server = start_server(env={"LIGHTS": COLOUR_LIGHTS})
    desktop = {"viewport": {"width": 1280, "height": 900}}
    a, b = open_tab(server, **desktop), open_tab(server, **desktop)
    boxes = [a.page.locator(f'.card[data-light="{name}"]').bounding_box() for name in ("desk", "strip", "bulb")]
    assert len({round(box["y"]) for box in boxes}) == 1, boxes  # one row: side by side
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    expect(a.page.locator('.card[data-light="desk"] [data-part="color"]')).to_have_count(0)  # one channel: no colour

    card(a, "strip", "color").fill("#00ff88")  # the platform's colour input, as a finger leaves it
    expect(card(b, "strip", "color")).to_have_value("#00ff88")
    expect(card(b, "strip", "tone-value")).to_have_text("#00ff88")
    assert server.wait_for(lambda h: h["lights"][1].get("color") == "#00ff88", what="the colour")
    assert glow(b, "strip") == "#00ff88"

    track = a.page.evaluate(
        "getComputedStyle(document.querySelector('[data-part=kelvin]')).getPropertyValue('--track')"
    )
    assert track.startswith("linear-gradient(to right, #ffad59") and track.count("#") > 3  # warm to cold
    card(a, "bulb", "kelvin").fill("3500")
    expect(card(b, "bulb", "tone-value")).to_have_text("3500 K")
    expect(card(b, "bulb", "kelvin")).to_have_value("3500")
    assert server.wait_for(lambda h: h["lights"][2].get("kelvin") == 3500, what="the white")

    server.post("/lights/strip", '{"kelvin": 2700}')  # another door: an RGB light's white
    expect(card(a, "strip", "tone-value")).to_have_text("2700 K")
    expect(card(a, "strip", "color")).to_have_value("#ffad59")  # the black body's 2700 K, as the server works it out

    a.page.locator("#all-off").click()
    for light in ("desk", "strip", "bulb"):
        expect(card(b, light, "value")).to_have_text("0")
    b.page.locator("#all-on").click()
    for light, level in (("desk", "50"), ("strip", "50"), ("bulb", "50")):
        expect(card(a, light, "value")).to_have_text(level)
    assert server.get("/lights/strip")["kelvin"] == 2700  # on and off keep the colour
    for tab in (a, b):
        assert tab.console_errors == []


@pytest.mark.parametrize("width", [320, 360])
def test_colour_cards_fit_a_narrow_phone(start_server, open_tab, width):
    server = start_server(env={"LIGHTS": COLOUR_LIGHTS})
    tab = open_tab(server, viewport={"width": width, "height": 800})
    layout = tab.page.evaluate("""() => {
      const box = (el) => el.getBoundingClientRect();
      const shown = [...document.querySelectorAll("button, input, select, output, h2")].filter((el) => el.offsetParent);
      return {
        page: [document.documentElement.scrollWidth, innerWidth],
        outside: shown.filter((el) => box(el).left < 0 || box(el).right > innerWidth).map((el) => el.outerHTML),
        tones: [...document.querySelectorAll(".tone-row")].map((row) => new Set([...row.children]
          .filter((el) => el.offsetParent).map((el) => Math.round(box(el).top + box(el).height / 2))).size),
      };
    }""")
    assert layout["page"][0] <= layout["page"][1], layout  # no sideways scrolling
    assert layout["outside"] == [], layout
    assert layout["tones"] == [1, 1], layout  # each colour row on one line
    card(tab, "bulb", "kelvin").fill("6500")
    assert server.wait_for(lambda h: h["lights"][2].get("kelvin") == 6500, what="the white from a phone")


def test_a_button_on_the_lamp_shows_on_the_page_at_once(start_server, pigpiod, open_tab):
    server = start_server(
        env={
            "PIGPIO_ADDR": "127.0.0.1",
            "PIGPIO_PORT": str(pigpiod.port),
            "LED_PIN_FACTORY": "pigpio",
            "BUTTONS": "led:5",
            "ENCODERS": "led:17/27",
        }
    )
    tab = open_tab(server)
    expect(tab.page.locator("#value")).to_have_text("50")
    pigpiod.set_input(5, 0)
    time.sleep(0.05)
    pigpiod.set_input(5, 1)  # a click: off
    expect(tab.page.locator("#value")).to_have_text("0", timeout=2000)
    for a, b in ((0, 1), (0, 0), (1, 0), (1, 1)):  # a detent of the knob: on at 5
        pigpiod.set_input(17, a)
        pigpiod.set_input(27, b)
        time.sleep(0.002)
    expect(tab.page.locator("#value")).to_have_text("5", timeout=2000)
    assert tab.console_errors == []


def test_a_scene_saved_from_one_page_shows_as_a_button_on_every_page_and_brings_it_back(start_server, open_tab):
    server = start_server(env={"LIGHTS": "desk:21,shelf:20"})
    a, b = open_tab(server), open_tab(server)
    server.post("/lights/desk", '{"level": 30}')
    expect(a.page.locator('.card[data-light="desk"] [data-part=value]')).to_have_text("30")
    a.page.locator("#scene-name").fill("evening")
    a.page.get_by_role("button", name="Save what is shown as a scene").click()
    for tab in (a, b):
        expect(tab.page.get_by_role("button", name="Scene evening: desk, shelf")).to_be_visible()
    server.post("/lights/desk", '{"level": 90}')
    expect(b.page.locator('.card[data-light="desk"] [data-part=value]')).to_have_text("90")
    b.page.get_by_role("button", name="Scene evening: desk, shelf").click()
    for tab in (a, b):
        expect(tab.page.locator('.card[data-light="desk"] [data-part=value]')).to_have_text("30")
    a.page.get_by_role("button", name="Delete scene evening").click()
    for tab in (a, b):
        expect(tab.page.get_by_role("button", name="Scene evening: desk, shelf")).to_have_count(0)
    for tab in (a, b):
        assert tab.console_errors == []
