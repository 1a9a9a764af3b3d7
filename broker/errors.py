"""The one error the rest of chatstop has to know about the broker, and where it comes from."""

from __future__ import annotations

from types import TracebackType

import nats.errors


class BrokerUnavailable(Exception):
    """NATS could not be reached or did not answer in time; the message says where.

    Callers treat it as "use the slow path": live tokens wait for Temporal's record, and a
    Stop falls back to Temporal's cancel."""


class unavailable_on_nats_errors:  # noqa: N801 - used like contextlib.suppress
    """``with unavailable_on_nats_errors(where, what):`` turns nats-py's errors (timeouts, no
    responders, closed or reconnecting connection, JetStream API errors) into
    BrokerUnavailable naming the server and the operation."""

    __slots__ = ("_what", "_where")

    def __init__(self, where: str, what: str) -> None:
        self._where = where
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, nats.errors.Error | TimeoutError):
            detail = str(exc) or type(exc).__name__
            message = f"NATS at {self._where}: {self._what} failed ({detail})"
            raise BrokerUnavailable(message) from exc


def not_connected(where: str, what: str) -> BrokerUnavailable:
    return BrokerUnavailable(f"NATS at {where} is not connected; cannot {what}")
