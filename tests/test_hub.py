"""The hub in process: its clients over socketpairs, read frame by frame; the keep-alive on a fake clock."""

import socket
import struct
import threading
import time

import pytest
from wsproto.connection import Connection, ConnectionType

from broadcast.connection import Client
from broadcast.frames import CloseCode, text_frame
from broadcast.hub import Hub

from fakes import FakeClock
from support import client_frame


class FakeServerWs:
    """What the hub's Client uses of simple-websocket's Server, over one end of a socketpair."""

    def __init__(self, sock):
        self.sock = sock
        self.connected = True
        self.close_reason = CloseCode.NO_STATUS
        self.ws = Connection(ConnectionType.SERVER)  # builds the close frame
        self.thread = threading.Thread(target=lambda: None)
        self.thread.start()


class Peer:
    """The far end of one client's socket: reads the server's frames (RFC 6455 5.2, unmasked)."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def frames(self, timeout=1.0, until=None):
        """(opcode, payload) of every frame that arrives within ``timeout`` s (or until ``until`` matches)."""
        found = []
        self.sock.settimeout(timeout)
        while True:
            while (frame := self._one()) is not None:
                found.append(frame)
                if until is not None and until(frame):
                    return found
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return found
            if not chunk:
                return found
            self.buffer += chunk

    def _one(self):
        if len(self.buffer) < 2:
            return None
        opcode, size = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
        start = 2
        if size == 126:
            if len(self.buffer) < 4:
                return None
            size, start = struct.unpack("!H", self.buffer[2:4])[0], 4
        if len(self.buffer) < start + size:
            return None
        payload, self.buffer = self.buffer[start : start + size], self.buffer[start + size :]
        return opcode, payload

    def nothing_arrived(self) -> bool:
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1) == b""
        except BlockingIOError:
            return True
        finally:
            self.sock.setblocking(True)


@pytest.fixture
def connect():
    """connect(hub, small_buffers=False) -> (Client, Peer), joined to the hub with a first state."""
    sockets = []

    def connect(
        hub, *, small_buffers=False, first='{"type":"state","level":50,"on":true,"brightness":50,"seq":0}', **options
    ):
        ours, theirs = socket.socketpair()
        if small_buffers:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sockets.extend((ours, theirs))
        client = Client(FakeServerWs(ours), f"peer{len(sockets) // 2}", **options)
        hub.add(client, [(None, first)])
        return client, Peer(theirs)

    yield connect
    for s in sockets:
        s.close()


def broadcast(hub, text, skip=None):
    """A state of the one light, to every client (as the app's listener sends the default light's)."""
    hub.broadcast_state(None, text, lambda: text, skip=skip)


def state(seq):
    return f'{{"type":"state","level":{seq % 101},"seq":{seq}}}'


def test_a_broadcast_is_one_frame_to_every_client_but_the_requester(connect):
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=10)
    (_, peer_a), (b, peer_b), (_, peer_c) = connect(hub), connect(hub), connect(hub)
    for peer in (peer_a, peer_b, peer_c):
        assert peer.frames(until=lambda f: True) == [
            (0x1, b'{"type":"state","level":50,"on":true,"brightness":50,"seq":0}')
        ]
    broadcast(hub, state(1), skip=b)
    assert peer_a.frames(until=lambda f: True) == [(0x1, state(1).encode())]
    assert peer_c.frames(until=lambda f: True) == [(0x1, state(1).encode())]
    assert peer_b.nothing_arrived()
    assert text_frame(state(1)) == b"\x81" + bytes([len(state(1))]) + state(1).encode()


def test_a_client_that_stops_reading_holds_up_no_one_and_gets_only_the_newest_state(connect):
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=10)
    slow, slow_peer = connect(hub, small_buffers=True)
    fast, fast_peer = connect(hub)
    fast_seen = []
    reader = threading.Thread(
        target=lambda: fast_seen.extend(fast_peer.frames(timeout=5, until=lambda f: f[1] == state(3000).encode()))
    )
    reader.start()
    for seq in range(1, 3001):  # the slow peer reads nothing meanwhile
        broadcast(hub, state(seq))
    reader.join()
    fast_seqs = seqs_of(fast_seen[1:])
    assert fast_seqs[-1] == 3000 and fast_seqs == sorted(set(fast_seqs))  # converged, in order
    slow_seqs = seqs_of(slow_peer.frames(timeout=5, until=lambda f: f[1] == state(3000).encode())[1:])
    assert slow_seqs[-1] == 3000 and slow_seqs == sorted(set(slow_seqs))  # in order, ending at the newest
    assert len(slow_seqs) < 1500, f"{len(slow_seqs)} states: the ones that waited were not replaced by newer ones"


def seqs_of(frames):
    return [int(payload.rsplit(b":", 1)[1].rstrip(b"}")) for _, payload in frames]


def test_replies_are_never_dropped_even_while_the_client_is_behind(connect):
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=10)
    client, peer = connect(hub, small_buffers=True)
    for n in range(500):
        client.send_reply(f'{{"type":"pong","id":{n}}}')
        broadcast(hub, state(n + 1))
    frames = peer.frames(timeout=5, until=lambda f: f[1] == b'{"type":"pong","id":499}')
    replies = [p for _, p in frames if b"pong" in p]
    assert replies == [f'{{"type":"pong","id":{n}}}'.encode() for n in range(500)]


def test_keep_alive_pings_when_due_and_only_the_answer_to_its_ping_counts(connect):
    clock = FakeClock(100.0)
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=10, clock=clock)
    quiet, quiet_peer = connect(hub)
    lively, lively_peer = connect(hub)
    liar, liar_peer = connect(hub)
    for client in (quiet, lively, liar):  # each handler reads its client's frames
        threading.Thread(target=lambda c=client: _read_until_gone(c), daemon=True).start()
    for peer in (quiet_peer, lively_peer, liar_peer):
        peer.frames(until=lambda f: True)
    clock.now += 24.9
    hub.check()
    assert quiet_peer.nothing_arrived() and lively_peer.nothing_arrived()  # not due yet
    clock.now += 0.2
    hub.check()
    pings = {}
    for name, peer in (("quiet", quiet_peer), ("lively", lively_peer), ("liar", liar_peer)):
        [(opcode, payload)] = peer.frames(until=lambda f: True)
        assert opcode == 0x9 and len(payload) == 8, (name, opcode, payload)
        pings[name] = payload
    assert len(set(pings.values())) == 3  # every ping its own payload
    lively_peer.sock.sendall(client_frame(0xA, pings["lively"]))  # the answer
    liar_peer.sock.sendall(client_frame(0xA, b"") + client_frame(0xA, b"\0" * 8))  # unsolicited pongs
    _until(lambda: lively.answered_ping())
    clock.now += 25
    hub.check()
    assert quiet.dropped == "no answer to a ping within 25 s"
    assert liar.dropped == "no answer to a ping within 25 s"
    assert quiet_peer.frames(timeout=1) == []  # its connection was cut: the peer reads the end
    assert lively.dropped is None and lively_peer.frames(until=lambda f: True)[0][0] == 0x9


def _read_until_gone(client):
    try:
        while True:
            client.receive()
    except Exception:  # noqa: BLE001 - however the connection ends, it has ended
        pass


def _until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_news_waiting_for_a_slow_reader_keeps_the_newest_per_key(connect):
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=10)
    slow, peer = connect(hub, small_buffers=True)
    deaf, deaf_peer = connect(hub)  # asked for no news
    slow.wants_news = True
    deaf_peer.frames(until=lambda f: True)  # its first state
    for n in range(2000):  # 33 keys, replaced over and over while the peer reads nothing
        hub.broadcast_news(f"s{n % 33}", f'{{"type":"schedule","name":"s{n % 33}","n":{n},"pad":"{"x" * 200}"}}')
    assert slow.dropped is None and slow.queued_bytes() < 33 * 300, slow.queued_bytes()
    frames = peer.frames(timeout=1)
    last = {}
    for _, payload in frames[1:]:
        text = payload.decode()
        last[text.split('"name":"')[1].split('"')[0]] = int(text.split('"n":')[1].split(",")[0])
    assert last == {f"s{n % 33}": n for n in range(2000 - 33, 2000)}  # each key's newest arrived
    assert deaf_peer.frames(timeout=0.2) == []


def test_a_client_past_its_outbox_budget_is_cut_off(connect):
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=10)
    greedy, peer = connect(hub, small_buffers=True, outbox_budget=16 * 1024)
    for n in range(200):  # replies are kept in order, so they pile up while the peer reads nothing
        greedy.send_reply(state(n) * 10)
    assert greedy.dropped == "over its outbox budget (16 KiB waiting to be read)"
    assert greedy.queued_bytes() == 0


def test_the_keep_alive_loop_cuts_off_a_send_stalled_past_send_timeout(connect):
    hub = Hub(send_timeout=0.2, ping_interval=25, max_clients=10)  # checks every 0.05 s
    stuck, peer = connect(hub, small_buffers=True, outbox_budget=1 << 30)
    started = time.monotonic()
    for seq in range(1, 200):
        stuck.send_reply(state(seq) * 20)  # replies are kept: the writer ends up blocked in a send
    while stuck.dropped is None and time.monotonic() - started < 5:
        time.sleep(0.01)
    took = time.monotonic() - started
    assert stuck.dropped == "not reading for over 0.2 s", f"still connected after {took:.2f} s"
    hub.stop()


def test_close_all_sends_1001_to_everyone_and_to_whoever_joins_after(connect):
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=10)
    (_, peer_a), (_, peer_b) = connect(hub), connect(hub)
    assert hub.close_all() is True and hub.close_all() is False  # only the first acts
    _, late_peer = connect(hub)
    for peer in (peer_a, peer_b):
        frames = peer.frames(until=lambda f: f[0] == 0x8)
        assert frames[-1][0] == 0x8 and int.from_bytes(frames[-1][1][:2], "big") == CloseCode.GOING_AWAY
    late = late_peer.frames(until=lambda f: f[0] == 0x8)
    assert [opcode for opcode, _ in late] == [0x8]  # no state first: the server is going away


def test_slots_admit_up_to_max_clients(connect):
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=2)
    assert hub.reserve_slot() and hub.reserve_slot() and not hub.reserve_slot()
    hub.release_slot()
    assert hub.reserve_slot()


def light_state(light, seq):
    return f'{{"type":"state","light":"{light}","level":{seq % 101},"seq":{seq}}}'


def test_a_slow_reader_gets_the_newest_state_of_every_light_in_order(connect):
    hub = Hub(send_timeout=10, ping_interval=25, max_clients=10)
    slow, slow_peer = connect(hub, small_buffers=True)
    slow.watches_lights = True
    for seq in range(1, 3001):  # two lights change in turn; the slow peer reads nothing meanwhile
        for light in ("desk", "shelf"):
            hub.broadcast_state(light, None, lambda light=light, seq=seq: light_state(light, seq))
    last = {light: light_state(light, 3000).encode() for light in ("desk", "shelf")}
    seen = {"desk": [], "shelf": []}
    for _, payload in slow_peer.frames(timeout=5, until=lambda frame: frame[1] == last["shelf"])[1:]:
        light = payload.split(b'"light":"')[1].split(b'"')[0].decode()
        seen[light].append(payload)
    for light in ("desk", "shelf"):
        seqs = seqs_of([(1, payload) for payload in seen[light]])
        assert seen[light][-1] == last[light], f"{light}: its newest state was replaced by another light's"
        assert seqs == sorted(set(seqs)) and len(seqs) < 1500
    v1, v1_peer = connect(hub)
    hub.broadcast_state("shelf", None, lambda: light_state("shelf", 3001))  # not the default light's
    assert v1_peer.frames(timeout=0.2)[1:] == []  # a v1 client sees the default light only
