"""Work done on a client's behalf counts against that client: each attack of tests/amplification.py
against a real server process, with another client's `get` and /healthz timed while it runs,
and the service's memory and log measured (docs/security.md, "Work done on a client's behalf")."""

import time

import pytest

import amplification as amp
from attacks import Watcher, assert_served, rss_kb
from mqtt_support import Broker
from support import Client, worker_pid

# Timed against a real server: these run one after another, on one test worker.
pytestmark = pytest.mark.xdist_group("timed attacks")

LOG_PER_S = 20 * 1024  # bytes of log a second the service may write under any attack (make bench: the target)
RSS_BACK = 5 * 1024  # KB: what memory may keep once the attackers are gone


class Measured:
    """The server's log bytes and RSS around an attack."""

    def __init__(self, server):
        self.server = server

    def __enter__(self) -> "Measured":
        self.pid = worker_pid(self.server)
        self.rss_before = rss_kb(self.pid)
        self.log_before = self.server.log_path.stat().st_size
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.monotonic() - self.started
        self.log_per_s = (self.server.log_path.stat().st_size - self.log_before) / self.seconds

    def assert_log_bounded(self) -> None:
        assert self.log_per_s <= LOG_PER_S, f"{self.log_per_s / 1024:.1f} KB/s of log:\n{self.server.log()[-3000:]}"

    def assert_memory_back(self) -> None:
        self.server.wait_for(lambda h: h["clients"] == 0, timeout=20, what="the attackers gone")
        after = rss_kb(self.pid)
        assert after - self.rss_before < RSS_BACK, (self.rss_before, after)


# ---------------------------------------------------------------- 9: one pipelining HTTP connection


@pytest.mark.parametrize(
    "request_bytes, env",
    [
        (amp.GET_HEALTHZ, {}),
        (amp.GET_PAGE, {}),
        (amp.POST_NO_TOKEN, {"LED_TOKEN": "secret"}),
        (amp.POST_EVERY_LIGHT, {"LIGHTS": amp.EVERY_PIN}),
        (amp.MALFORMED, {}),
    ],
    ids=[
        "GET /healthz",
        "GET /",
        "POST /led without a token",
        "POST /lights/* of 28 lights",
        "a malformed request line, connecting again after each 400",
    ],
)
def test_a_connection_that_keeps_200_requests_in_flight_gets_its_turn_and_no_more(start_server, request_bytes, env):
    server = start_server(env=env)
    query = "?token=secret" if "LED_TOKEN" in env else ""
    with Watcher(server, query=query) as watcher, Measured(server) as measured:
        watcher.more_rounds()
        figures = amp.pipelined_http(server, seconds=5, request=request_bytes)
        watcher.more_rounds()
    assert figures["answered"] > 10, figures  # the attack ran, and was answered
    assert_served(watcher)
    measured.assert_log_bounded()
    if "LED_TOKEN" in env:  # one line for the connection's refusals, then a count
        assert server.log().count("refused POST /led") == 1, server.log()[-2000:]
    print(f"pipelining: {figures}; {watcher.summary()}; log {measured.log_per_s / 1024:.1f} KB/s")


# ---------------------------------------------------------------- 10: a watch turned on and off


def test_turning_the_watch_of_896_schedules_on_and_off_is_paid_for_by_the_watcher(start_server, tmp_path):
    names = [part.split(":")[0] for part in amp.EVERY_PIN.split(",")]
    state_file = amp.state_file_of_many_schedules(tmp_path / "many.json", names)
    server = start_server(env={"LIGHTS": amp.EVERY_PIN, "STATE_FILE": str(state_file)})
    with Watcher(server) as watcher, Measured(server) as measured:
        watcher.more_rounds()
        figures = amp.watch_toggles(server, seconds=6)
        watcher.more_rounds()
    assert figures["messages"] > 300 and not figures["closed"], figures
    # Each watch sends 896 schedules (about 100 KB): paid for, it is one at first and then
    # one every 9 s (100 units a second), where unpaid it was one every second message.
    assert figures["received_bytes"] < 400_000, figures
    assert_served(watcher)
    measured.assert_log_bounded()
    measured.assert_memory_back()
    print(f"watch toggles: {figures}; {watcher.summary()}")


# ---------------------------------------------------------------- 11: commands for every light


def test_commands_for_every_light_at_the_rate_limit_are_counted_as_the_changes_they_make(start_server):
    server = start_server(env={"LIGHTS": amp.EVERY_PIN})
    with Watcher(server, fan_out=True) as watcher, Measured(server) as measured:
        watcher.more_rounds()
        figures = amp.every_light_commands(server, seconds=6)
        watcher.more_rounds()
    # 4 clients x 100 messages a second: 2,400 sent. A "*" costs 28 units: about 100 / 28
    # a second get through for each client, after a burst of 200 / 28.
    assert figures["messages"] > 1000 and figures["rate_limited"] > figures["messages"] / 2, figures
    assert_served(watcher)
    assert watcher.converged, watcher.summary()
    measured.assert_log_bounded()
    measured.assert_memory_back()
    log = server.log()
    assert "of 28 lights by ws" in log  # one line a command, naming the lights
    assert "more changes in the last" in log  # and then a count
    print(f"every light: {figures}; {watcher.summary()}; log {measured.log_per_s / 1024:.1f} KB/s")


# ---------------------------------------------------------------- 12: an MQTT flood


def test_an_mqtt_flood_on_the_group_topic_is_dropped_past_its_budget(start_server, tmp_path):
    broker = Broker(tmp_path).start()
    try:
        server = start_server(env={"LIGHTS": amp.EVERY_PIN, "MQTT_URL": broker.url, "MQTT_DEVICE_ID": "lamp1"})
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        with Watcher(server) as watcher, Measured(server) as measured:
            watcher.more_rounds()
            figures = amp.mqtt_flood(server, broker, seconds=6)
            watcher.more_rounds()
        assert figures["published"] > 5000, figures
        assert_served(watcher)
        measured.assert_log_bounded()
        dropped = server.wait_for(
            lambda h: h["mqtt_dropped"] > figures["published"] / 2, what="most of the flood dropped"
        )["mqtt_dropped"]
        assert server.log().count("MQTT: over 100 messages a second on ledsock/all/set") == 1
        measured.assert_memory_back()
        print(f"MQTT flood: {figures}, {dropped} dropped; {watcher.summary()}")
    finally:
        broker.stop()


# ---------------------------------------------------------------- 13: candles on simulated pins


def test_candles_on_every_simulated_light_leave_memory_flat(start_server):
    server = start_server(env={"LIGHTS": amp.EVERY_PIN})
    with Watcher(server) as watcher:
        figures = amp.candles_burning(server, seconds=8)
    assert_served(watcher)
    # gpiozero's mock pins keep every state: 28 candles grew the service by about 220 KB a second.
    assert figures["growth_kb_per_s"] < 40, figures
    with Client(server.ws_url) as client:
        client.recv()
        assert client.request({"type": "get", "light": "l27", "id": 1})[0]["effect"] == "candle"
    print(f"candles: {figures}")


# ---------------------------------------------------------------- 16: scenes saved and recalled at the limit


def test_scenes_saved_and_recalled_at_the_rate_limit_keep_the_disk_and_the_others_in_bounds(start_server, tmp_path):
    server = start_server(env={"LIGHTS": amp.EVERY_PIN, "STATE_FILE": str(tmp_path / "state.json")})
    writes_before = server.get("/healthz")["state_file_writes"]
    with Watcher(server, fan_out=True) as watcher, Measured(server) as measured:
        watcher.more_rounds()
        started = time.monotonic()
        figures = amp.scene_churn(server, seconds=6)
        took = time.monotonic() - started
        watcher.more_rounds()
    health = server.wait_for(lambda h: not h["state_file_pending"], what="the last write")
    writes = health["state_file_writes"] - writes_before
    assert figures["messages"] > 1000, figures
    assert writes <= took + 1.2 + 2, (writes, took)  # at most one write a second
    assert_served(watcher)
    assert watcher.converged, watcher.summary()
    measured.assert_log_bounded()
    measured.assert_memory_back()
    print(f"scene churn: {figures}; {writes} writes in {took:.1f} s; {watcher.summary()}")
