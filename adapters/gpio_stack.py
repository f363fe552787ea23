"""Every reach into the GPIO libraries' internals, each with its reason (pigpio's connection,
gpiozero's lgpio pin), and importing lgpio where it can work. Nothing else in the service
reaches into them; tests/test_adapters.py pins each reach against the locked versions.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any


def stop_pigpio_notifications(connection) -> None:
    """End pigpio's notification thread: an LED is an output and needs no edge events.

    When the daemon goes away, that thread loops on its dead socket without ever blocking;
    with threads it burns a core, and under gevent, where it never yields, it would stop the
    whole service. Once stopped, it ends as soon as its socket does. pigpio has no public way
    to do this, hence its private ``_notify``.
    """
    notify = getattr(connection, "_notify", None)
    if notify is not None:
        try:
            notify.stop()
        except OSError:
            pass


def set_pigpio_deadline(connection, timeout: float) -> None:
    """Give every command on pigpio's command socket a deadline (pigpio opens it with none).

    pigpio has no public way to do this, hence its private ``sl.s``. A call past the deadline
    raises ``TimeoutError``; the Led then drops the connection, whose late answers would
    otherwise be read as the answers to later commands.
    """
    command_socket = getattr(getattr(connection, "sl", None), "s", None)
    if command_socket is not None:
        command_socket.settimeout(timeout)


def lgpio_work_folder(environ=os.environ) -> str:
    """Where lgpio makes its notification FIFO (``.lgd-nfy*``) when it is imported: ``LG_WD``,
    its own public setting, when given; else the service's runtime folder (systemd's
    ``RUNTIME_DIRECTORY``), else the user's (``XDG_RUNTIME_DIR``), else the temporary folder.

    lgpio's own default is its working directory: the install folder under systemd, read-only
    there (``ProtectSystem=strict``), where ``import lgpio`` fails (gpiozero issue 1106, lg
    issue 22) and every light would fall back to the simulation; in a clone, a FIFO left in it.
    """
    for name in ("LG_WD", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"):
        if environ.get(name):
            return environ[name].split(":")[0]
    return tempfile.gettempdir()


class LgpioTooLate(RuntimeError):
    """lgpio was first imported after gevent patched threading."""


def import_lgpio(environ=os.environ):
    """lgpio, imported with the process's ``LG_WD`` set (:func:`lgpio_work_folder` of
    ``environ``); ImportError if it is not installed, OSError if it still cannot make its FIFO,
    LgpioTooLate if gevent has patched threading before its first import.

    lgpio starts a thread at import that blocks reading its FIFO and delivers every edge. After
    gevent's ``patch_all()`` that thread is a greenlet, and its blocking read stops the whole
    process: the import never returns. The service imports it before serving starts
    (``app.main``); a later first import is refused here, never a hang.

    lgpio's library changes the process's working directory to ``LG_WD`` when it loads, and its
    module then opens the FIFO there by a relative name: the service's is put back at once, so
    that a relative path it was given (``STATE_FILE=state.json``) still means what it did.
    """
    monkey = sys.modules.get("gevent.monkey")
    if "lgpio" not in sys.modules and monkey is not None and monkey.is_module_patched("threading"):
        raise LgpioTooLate(
            "lgpio must be imported before gevent patches threading (its notification thread would stop the loop)"
        )
    os.environ.setdefault("LG_WD", lgpio_work_folder(environ))
    working_directory = os.getcwd()
    try:
        import lgpio
    finally:
        os.chdir(working_directory)
    return lgpio


def fine_duty_lgpio_pin():
    """gpiozero's LGPIOPin, with the duty cycle it hands lgpio kept exact.

    gpiozero rounds the duty down to whole percents (``int(value * 100)``), and lgpio takes a
    fraction (its software PWM is timed in microseconds: 0.01 % steps at 100 Hz). With whole
    percents, CIE levels 1 to 8 (0.11 % to 0.89 %) would be dark. gpiozero's pin keeps its
    state in ``_pwm`` (frequency, duty), its chip in ``factory._handle`` and its number in
    ``_number``, with no public setter for a fraction, hence these three.
    """
    lgpio = import_lgpio()
    from gpiozero.pins.lgpio import LGPIOPin

    class FineDutyLGPIOPin(LGPIOPin):
        _pwm: tuple[float, float] | None  # gpiozero's: (frequency, duty in percent) while it is PWM

        def _set_state(self, value: float) -> None:
            if not self._pwm:  # not PWM: gpiozero's own on/off
                return super()._set_state(value)
            frequency = self._pwm[0]
            self._pwm = (frequency, value * 100)
            lgpio.tx_pwm(self.factory._handle, self._number, frequency, value * 100)

    return FineDutyLGPIOPin


def mark_closed(device) -> None:
    """Mark a gpiozero device closed without touching its pin, once its chip or daemon is gone.

    gpiozero closes a device again when it is collected (``GPIOBase.__del__``); on a dead
    handle that close raises, and Python prints the traceback to stderr in the middle of the
    log. gpiozero's own ``close`` ends by setting ``_pin`` to None, which is what ``closed``
    reads and what makes a later ``close`` do nothing; there is no public way to do only that.
    """
    device._pin = None


def end_pigpio_notifications_at_eof(connection) -> None:
    """Make pigpio's notification thread end when the daemon closes its socket.

    Inputs need that thread (it delivers their edges), so it cannot be stopped as an LED's is.
    But when the daemon goes away its loop reads the closed socket's empty answer forever
    without blocking: a core burnt, and under gevent, where it never yields, the whole service
    stopped. pigpio has no public way to notice it; the thread's socket (``_notify.sl.s``) is
    wrapped so that its end of file clears the thread's ``go``, and the loop ends.
    """
    notify: Any = getattr(connection, "_notify", None)
    if notify is None:
        return
    sock = notify.sl.s

    class EndAtEof:
        def recv(self, size: int) -> bytes:
            data = sock.recv(size)
            if not data:
                notify.go = False
            return data

        def __getattr__(self, name):
            return getattr(sock, name)

    notify.sl.s = EndAtEof()
