"""The two pure limits every door shares, on a fake clock: a client's work budget (budget.py)
and the log's lines per source (loglimit.py)."""

import logging

import pytest

from limits.budget import Budget
from limits.loglimit import LogLimiter

from fakes import FakeClock


def test_a_budget_allows_its_burst_then_its_rate():
    clock = FakeClock(1000.0)
    budget = Budget(10, 20, clock=clock)
    assert sum(budget.take() for _ in range(30)) == 20
    clock.now += 0.5  # five units back
    assert sum(budget.take() for _ in range(30)) == 5
    assert budget.wait() == pytest.approx(0.1)


def test_work_done_on_a_clients_behalf_is_a_debt_it_waits_out():
    clock = FakeClock(1000.0)
    budget = Budget(100, 200, clock=clock)
    assert budget.take()
    budget.spend(900)  # a watch that sent 900 messages
    assert not budget.take() and budget.wait() == pytest.approx(7.02)  # 701 in debt, and one unit
    clock.now += 7.0
    assert not budget.take()  # two hundredths of a second short
    clock.now += 0.03
    assert budget.take()


def test_a_budget_never_holds_more_than_its_burst():
    clock = FakeClock(1000.0)
    budget = Budget(10, 20, clock=clock)
    clock.now += 3600
    assert budget.tokens == 20


class Timers:
    """The limiter's summary timer, fired by hand."""

    def __init__(self):
        self.due: list = []

    def __call__(self, delay, function):
        self.due.append(function)

    def fire(self):
        due, self.due = self.due, []
        for function in due:
            function()


@pytest.fixture
def limited(caplog):
    caplog.set_level(logging.INFO, logger="limits-test")
    clock, timers = FakeClock(1000.0), Timers()
    limiter = LogLimiter(
        logging.getLogger("limits-test"),
        "changes",
        lines=3,
        overall=5,
        period=10,
        sources=2,
        clock=clock,
        start_timer=timers,
    )
    return limiter, clock, timers, caplog


def lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_a_source_past_its_lines_is_counted_into_one_summary_when_its_period_ends(limited):
    limiter, clock, timers, caplog = limited
    for n in range(100):
        limiter.info("ws a", "level %d", n)
    assert lines(caplog) == ["level 0", "level 1", "level 2"]
    clock.now += 10
    timers.fire()
    assert lines(caplog)[-1] == "ws a: 97 more changes in the last 10 s, not logged one by one"
    limiter.info("ws a", "level %d", 100)  # a new period: lines again
    assert lines(caplog)[-1] == "level 100"


def test_every_source_together_is_held_to_the_overall_lines(limited):
    limiter, clock, timers, caplog = limited
    for source in ("ws a", "ws b", "ws c"):
        for n in range(3):
            limiter.info(source, "%s %d", source, n)
    assert lines(caplog) == ["ws a 0", "ws a 1", "ws a 2", "ws b 0", "ws b 1"]  # five in all
    clock.now += 10
    timers.fire()
    assert sorted(lines(caplog)[5:]) == [
        "ws b: 1 more changes in the last 10 s, not logged one by one",
        "ws c: 3 more changes in the last 10 s, not logged one by one",
    ]


def test_the_oldest_source_makes_room_with_its_summary(limited):
    limiter, clock, timers, caplog = limited
    for n in range(5):
        limiter.info("ws a", "a %d", n)
    limiter.info("ws b", "b")
    limiter.info("ws c", "c")  # a third source: "ws a" is forgotten, its count written first
    assert lines(caplog)[-2:] == ["ws a: 2 more changes in the last 0 s, not logged one by one", "c"]


def test_a_client_that_leaves_gets_its_summary_at_once(limited):
    limiter, clock, timers, caplog = limited
    for n in range(4):
        limiter.info("ws a", "a %d", n)
    limiter.forget("ws a")
    assert lines(caplog)[-1] == "ws a: 1 more changes in the last 0 s, not logged one by one"
    timers.fire()  # nothing left to say
    assert len(lines(caplog)) == 4
