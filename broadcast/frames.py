"""WebSocket frames as this server deals in them: the close codes, the frames it sends
(built once, the same bytes for every client), and the budget a client's frames are
counted against. Pure: no sockets, no library.
"""

from __future__ import annotations

import enum
import struct
import time
from collections.abc import Callable

from limits.budget import Budget

# A message may come in as many frames as a client likes (RFC 6455), so fragmentation is
# bounded by bytes: each frame counts its header too, at least FRAME_HEADER bytes (2, and the
# 4-byte mask every client frame has), and a message's frames may take FRAMING times its
# largest payload. A 4 KiB message in one-byte frames (28 KiB on the wire) is taken; a flood of
# empty continuation frames, which complete nothing, is closed after 32 KiB: milliseconds.
FRAME_HEADER = 6
FRAMING = 8
DEFAULT_MESSAGE_SIZE = 4096  # MAX_MESSAGE_SIZE's default, for a budget given none
CONTROL_RATE = 5.0  # pings and pongs a client may send a second, on average...
CONTROL_BURST = 20  # ...and at once


class CloseCode(enum.IntEnum):
    """WebSocket close codes (RFC 6455 7.4.1) this service sends or expects."""

    NORMAL = 1000
    GOING_AWAY = 1001
    NO_STATUS = 1005  # what a close frame without a code reads as
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009


class PolicyViolation(Exception):
    """A client broke a limit of :class:`FrameBudget`; it is closed with 1008 (or 1009)."""

    def __init__(self, reason: str, code: CloseCode = CloseCode.POLICY_VIOLATION):
        super().__init__(reason)
        self.reason, self.code = reason, code


class FrameBudget:
    """What one client may send, counted in frames, not messages.

    Pings and pongs come from a :class:`budget.Budget` (``control_rate`` a second, bursts of
    ``control_burst``); a message may be at most ``max_message_size`` bytes, and its frames,
    their headers counted, at most FRAMING times that. A client past any of these raises
    PolicyViolation. Whole messages are rate-limited apart, by the handler, with a
    ``rate_limited`` reply.
    """

    __slots__ = ("control_rate", "control_burst", "max_message_size", "max_framed", "_control")

    def __init__(
        self,
        *,
        max_message_size: int | None,
        control_rate: float = CONTROL_RATE,
        control_burst: int = CONTROL_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.control_rate, self.control_burst = control_rate, control_burst
        self.max_message_size = max_message_size
        self.max_framed = FRAMING * (max_message_size or DEFAULT_MESSAGE_SIZE)
        self._control = Budget(control_rate, control_burst, clock=clock)

    def control_frame(self) -> None:
        if not self._control.take():
            raise PolicyViolation(
                f"over {self.control_rate:g} pings and pongs a second (bursts of {self.control_burst})"
            )

    def message_part(self, frames: int, size: int) -> None:
        """A message so far: ``frames`` frames of ``size`` bytes of payload in all."""
        if self.max_message_size and size > self.max_message_size:
            raise PolicyViolation(f"a message over {self.max_message_size} bytes", CloseCode.MESSAGE_TOO_BIG)
        if size + frames * FRAME_HEADER > self.max_framed:
            raise PolicyViolation(f"a message in over {self.max_framed} bytes of frames")


def text_frame(text: str) -> bytes:
    """One unmasked, uncompressed WebSocket text frame (RFC 6455 5.2), as a server sends it.

    A broadcast builds its frame once and hands the same bytes to every client. The
    server accepts no extensions (see :func:`decline_extensions`), so these bytes are
    exactly what goes on the wire.
    """
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def ping_frame(payload: bytes) -> bytes:
    """An unmasked ping (payload under 126 bytes)."""
    return bytes((0x89, len(payload))) + payload
