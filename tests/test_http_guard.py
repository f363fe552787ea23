"""The waiting room of HTTP connections, in process on a fake clock: who is closed, and when."""

from serving.http_guard import WaitingRoom, crowded

from fakes import FakeClock


def test_while_crowded_the_longest_waiting_connection_is_closed():
    closed, clock = [], FakeClock(1000.0)
    room = WaitingRoom(crowded=lambda waiting, _longest: waiting > 3, close=closed.append, clock=clock)
    for name in "abc":
        room.wait(name, "10.0.0.1")
        clock.now += 1
    assert closed == [] and len(room) == 3
    room.wait("d", "10.0.0.2")
    assert closed == ["a"] and len(room) == 3 and room.closed == 1


def test_a_served_connection_is_never_closed_and_a_kept_alive_one_waits_from_its_last_request():
    closed, clock = [], FakeClock(1000.0)
    room = WaitingRoom(crowded=lambda waiting, _longest: waiting > 2, close=closed.append, clock=clock)
    room.wait("a", "p")
    room.wait("b", "p")
    room.served("a")  # its request arrived: being served
    room.wait("c", "p")
    assert closed == []
    room.wait("a", "p")  # kept alive, waiting again: now the newest
    assert closed == ["b"]


def test_one_log_line_for_a_burst_of_closes(caplog):
    clock = FakeClock(1000.0)
    room = WaitingRoom(crowded=lambda waiting, _longest: waiting > 1, close=lambda c: None, clock=clock)
    for n in range(100):
        room.wait(n, "10.0.0.9")
    clock.now += 11
    room.wait("late", "10.0.0.9")
    lines = [r.getMessage() for r in caplog.records if "waiting for a request" in r.getMessage()]
    assert len(lines) == 2 and "(1 since the last line)" in lines[0] and "(99 since the last line)" in lines[1], lines
    assert room.closed == 100


def test_while_there_is_room_nobody_is_closed_however_many_wait():
    closed = []
    room = WaitingRoom(crowded=lambda waiting, _longest: False, close=closed.append, clock=FakeClock(1000.0))
    for n in range(5000):  # a thousand clients reconnecting at once, slow to send their requests
        room.wait(n, "10.0.0.1")
    assert closed == [] and len(room) == 5000


def test_crowded_when_the_server_is_nearly_full_or_many_have_waited_a_second():
    assert crowded(10, 0.0, free=49, headroom=50)  # nearly full: whoever waits longest goes
    assert not crowded(10, 30.0, free=50, headroom=50)
    assert not crowded(5000, 0.5, free=500, headroom=50)  # a burst that has not had its second
    assert crowded(1001, 1.0, free=500, headroom=50) and not crowded(1000, 9.0, free=500, headroom=50)
