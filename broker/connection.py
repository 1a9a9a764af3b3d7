"""How a process connects to NATS: servers, credentials, TLS and reconnect policy.

nats-py's ``connect()`` with unlimited reconnect attempts never returns while every server
is down, so the Broker runs it as a background task and only waits a bounded time for it.
The callbacks here keep an outage to one warning instead of one line per retry.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

import nats.errors

from core.settings import BrokerSettings

logger = logging.getLogger("chatstop.broker")

RECONNECT_WAIT_SECONDS = 1.0
"""Pause between reconnect attempts: a restarted local server is back within about a second."""
PING_INTERVAL_SECONDS = 10
MAX_OUTSTANDING_PINGS = 2
"""A silently dead connection (no RST, e.g. a network partition) is noticed within ~30 s,
instead of nats-py's default 4 minutes; meanwhile Stop relies on the Temporal fallback."""


OTHER_ERROR_LOG_SECONDS = 10.0
_CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.ConnectionClosedError,
)
"""What nats-py reports while it cannot reach a server; anything else is a client error."""


def servers(settings: BrokerSettings) -> list[str]:
    return [url.strip() for url in settings.url.split(",") if url.strip()]


def where(settings: BrokerSettings) -> str:
    """For messages: the servers without any credentials embedded in the URLs."""
    return ", ".join(url.rpartition("@")[2] for url in servers(settings))


def tls_context(settings: BrokerSettings) -> ssl.SSLContext | None:
    if not (settings.tls_ca or settings.tls_cert):
        return None
    context = ssl.create_default_context(cafile=settings.tls_ca)
    if settings.tls_cert:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


class ConnectionLog:
    """nats-py callbacks that report each outage once, and its end."""

    def __init__(self, settings: BrokerSettings) -> None:
        self._where = where(settings)
        self._in_outage = False
        self._closing = False
        self._last_logged: dict[str, float] = {}

    async def on_error(self, exc: Exception) -> None:
        if not isinstance(exc, _CONNECTION_ERRORS):
            self._other_error(exc)
        elif self._in_outage or self._closing:
            logger.debug("NATS at %s: %s", self._where, exc)
        else:
            self._in_outage = True
            logger.warning(
                "NATS at %s: %s; live tokens pause and Stop takes the slow path until it is back",
                self._where,
                exc or type(exc).__name__,
            )

    def _other_error(self, exc: Exception) -> None:
        """E.g. a slow consumer, or a reader whose consumer could not be recreated yet: worth
        a warning, but at most one per kind every OTHER_ERROR_LOG_SECONDS."""
        kind = type(exc).__name__
        now = time.monotonic()
        if now - self._last_logged.get(kind, -OTHER_ERROR_LOG_SECONDS) >= OTHER_ERROR_LOG_SECONDS:
            self._last_logged[kind] = now
            logger.warning("NATS client error (%s): %s", kind, exc)

    async def on_disconnected(self) -> None:
        if not self._in_outage and not self._closing:
            self._in_outage = True
            logger.warning("lost the connection to NATS at %s; reconnecting", self._where)

    async def on_reconnected(self) -> None:
        self.connected()

    def closing(self) -> None:
        """Our own close is not an outage."""
        self._closing = True

    def connected(self) -> None:
        if self._in_outage:
            logger.info("connected to NATS at %s again", self._where)
        self._in_outage = False


def connect_options(
    settings: BrokerSettings, log: ConnectionLog, name: str | None
) -> dict[str, Any]:
    """Keyword arguments for ``nats.aio.client.Client.connect``."""
    options: dict[str, Any] = {
        "servers": servers(settings),
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,  # never give up: NATS coming back must be noticed
        "reconnect_time_wait": RECONNECT_WAIT_SECONDS,
        "connect_timeout": settings.connect_timeout_seconds,
        "ping_interval": PING_INTERVAL_SECONDS,
        "max_outstanding_pings": MAX_OUTSTANDING_PINGS,
        "error_cb": log.on_error,
        "disconnected_cb": log.on_disconnected,
        "reconnected_cb": log.on_reconnected,
        "user": settings.user,
        "password": settings.password,
        "token": settings.token,
        "user_credentials": settings.creds_file,
    }
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options
