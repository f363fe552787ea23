"""How every door answers a request that failed: one error object and HTTP status for each kind
of failure, and its one log line, the same on the WebSocket, REST and MQTT.

A refusal of the protocol's (a bad field, an unknown light) is the client's to read and is
logged at debug; the LED that could not be driven (``hardware_error``, 503) is logged as an
error, a few lines a period per client (the lights' log of changes); a fault of the service's
own (``internal_error``, 500) is logged with its traceback, and the door goes on serving.
"""

from __future__ import annotations

import logging

import protocol
from led import HardwareError
from limits.loglimit import LogLimiter

log = logging.getLogger(__name__)


def failure(
    exc: Exception, request_id: protocol.RequestId = None, *, origin: str, changes_log: LogLimiter
) -> tuple[str, int]:
    """The error object and HTTP status a failed request from ``origin`` (the door and the
    client, as the log names them) is answered with; logs the failure once."""
    if isinstance(exc, protocol.ProtocolError):
        log.debug("rejected from %s: %s", origin, exc.message)
        status = 404 if exc.code in (protocol.UNKNOWN_LIGHT, protocol.NOT_FOUND) else 400
        request_id = exc.request_id if exc.request_id is not None else request_id
        return protocol.error_message(exc.code, exc.message, request_id), status
    if isinstance(exc, HardwareError):
        changes_log.error(origin, "%s (from %s)", exc, origin)
        return protocol.hardware_error_message(exc, request_id), 503
    log.error("a request from %s could not be handled", origin, exc_info=exc)
    return protocol.internal_error_message(request_id), 500
