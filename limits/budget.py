"""What one client may make the service do: a token bucket of work, refilled at a steady rate.

Every door spends from one: a WebSocket message, an HTTP request and an MQTT command each
cost what they make the service do (:data:`ONE`, and a unit more for every further change or
message sent back on the client's behalf), so a client that asks for much is answered less
often, and the shared loop's time is counted where it is spent. A bucket may go into debt:
a piece of work is done whole once begun (a watch's every schedule, a change of every
light), and the client waits, or is refused, until the debt is paid. Pure: a clock in, no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ONE = 1.0  # what a message or request costs at least: one unit of work
# Where the server hands the app a connection's budget (a WSGI environ key): the HTTP requests
# of a kept-alive connection and the WebSocket it may become draw on one budget.
ENVIRON_KEY = "ledsock.budget"


class Budget:
    """``rate`` units a second on average, up to ``burst`` at once; spending may go into debt."""

    __slots__ = ("rate", "burst", "_tokens", "_stamp", "_clock")

    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < ONE:
            raise ValueError(f"a budget needs a rate above 0 and a burst of at least 1, got {rate}, {burst}")
        self.rate, self.burst = float(rate), float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return self._tokens

    def take(self, cost: float = ONE) -> bool:
        """Spend ``cost`` if a whole unit is left (the rest may go into debt); False, and nothing
        spent, when not: the caller refuses the work, or waits :meth:`wait` seconds first."""
        if self._refill() < ONE:
            return False
        self._tokens -= cost
        return True

    def spend(self, cost: float) -> None:
        """Spend ``cost`` for work already done on the client's behalf (debt allowed)."""
        self._refill()
        self._tokens -= cost

    def wait(self) -> float:
        """Seconds until a whole unit is left again (0 when it is now)."""
        missing = ONE - self._refill()
        return max(0.0, missing / self.rate)

    @property
    def tokens(self) -> float:
        return self._refill()
