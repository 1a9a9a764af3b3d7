"""The Broker: one NATS connection per process, shared by everything that streams or stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from broker.connection import ConnectionLog, connect_options, where
from broker.errors import BrokerUnavailable, not_connected, unavailable_on_nats_errors
from broker.events import RunEvent, close_reader, open_reader
from broker.publisher import NowaitPublisher
from broker.stops import StopBoard, StopCallback, StopListener
from broker.stream import ensure_stream, stream_config
from broker.subjects import Subjects, validate_run_id
from core.settings import BrokerSettings

logger = logging.getLogger("chatstop.broker")

_NO_MESSAGE_FOUND = 10037
"""JetStream's error code for "no message found" (as opposed to "stream not found")."""
_FLUSH_GIVE_UP_SECONDS = 600
"""nats-py 2.16 cancels the PONG future of a flush that times out but leaves it queued; the
late PONG then raises InvalidStateError in the read loop, which stops reading for good (the
connection looks up but is dead). So a flush is awaited with our own timeout and never
cancelled; this is just a bound far beyond nats-py's stale-connection detection (about
30 s, see connection.py), whose reconnect drops pending PONG futures harmlessly."""


class Broker:
    """Live run events on JetStream and stop notices on core NATS.

    Build it with ``await Broker.connect(settings)`` (or ``open_broker``). While NATS is
    unreachable the methods raise BrokerUnavailable, except ``publish_nowait`` (drops and
    counts) and ``on_stop`` (registers anyway), and the connection is retried forever in
    the background."""

    def __init__(self, settings: BrokerSettings, *, name: str | None = None) -> None:
        self._settings = settings
        self._name = name
        self._subjects = Subjects(settings.subject_prefix)
        self._where = where(settings)
        self._nc = NATS()
        self._js = self._nc.jetstream(timeout=settings.publish_timeout_seconds)
        self._log = ConnectionLog(settings)
        self._publisher = NowaitPublisher(self._nc, self._where, settings.coalesce_ms / 1000)
        self._stops = StopBoard(self._subjects)
        self._stream_config = stream_config(settings, self._subjects)
        self._keep_stream = False
        self._connecting: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    @classmethod
    async def connect(cls, settings: BrokerSettings, *, name: str | None = None) -> Broker:
        """Connect, waiting at most ``connect_timeout_seconds``; never fails for an
        unreachable server (the connection is retried in the background)."""
        broker = cls(settings, name=name)
        broker._publisher.start()
        broker._connecting = asyncio.create_task(broker._connect(), name="broker-connect")
        await asyncio.wait({broker._connecting}, timeout=settings.connect_timeout_seconds)
        if broker._connecting.done():
            broker._connecting.result()  # a configuration error (bad URL, unreadable creds)
        else:
            logger.warning(
                "NATS at %s is not reachable yet; starting anyway and retrying in the "
                "background (live tokens and the Stop fast path wait for it)",
                broker._where,
            )
        return broker

    async def _connect(self) -> None:
        options = connect_options(self._settings, self._log, self._name)
        options["reconnected_cb"] = self._on_reconnected
        await self._nc.connect(**options)
        self._log.connected()
        self._publisher.connection_back()
        # nats-py re-sends this subscription after every reconnect.
        await self._nc.subscribe(self._subjects.all_stops, cb=self._stops.on_message)
        if self._keep_stream:
            await self._ensure_stream_quietly()

    async def _on_reconnected(self) -> None:
        self._log.connected()
        self._publisher.connection_back()
        if self._keep_stream:  # a memory stream, or a fresh server, lost it
            self._spawn(self._ensure_stream_quietly())

    async def close(self) -> None:
        self._log.closing()
        tasks = [t for t in (self._connecting, *self._background) if t is not None]
        for task in tasks:
            task.cancel()  # the connection goes away: pending confirmations with it
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._publisher.close(within=self._settings.publish_timeout_seconds)
        await self._nc.close()  # writes what is still buffered before closing the socket

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    @property
    def dropped_events(self) -> int:
        """Events ``publish_nowait`` dropped because NATS was not connected (or too slow)."""
        return self._publisher.dropped

    @property
    def subjects(self) -> Subjects:
        return self._subjects

    async def ensure_stream(self) -> None:
        """Create or update the events stream; also redone after every reconnect."""
        self._keep_stream = True
        self._require_connection("create the stream")
        with unavailable_on_nats_errors(self._where, f"creating stream {self._settings.stream}"):
            await ensure_stream(self._js, self._stream_config)

    async def _ensure_stream_quietly(self) -> None:
        try:
            await ensure_stream(self._js, self._stream_config)
        except Exception as exc:
            logger.warning("could not create stream %s: %s", self._settings.stream, exc)

    # --- worker side ------------------------------------------------------------------

    def publish_nowait(self, run_id: str, payload: bytes, *, msg_id: str | None = None) -> None:
        """Fire and forget: never blocks, never raises for the connection (drops instead)."""
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        self._publisher.publish(self._subjects.events(run_id), payload, headers)

    async def publish(self, run_id: str, payload: bytes, *, msg_id: str | None = None) -> int:
        """Store one event and return its stream sequence (the first one's, for a duplicate
        ``msg_id`` inside the duplicate window). Every ``publish_nowait`` made before is
        stored before it."""
        subject = self._subjects.events(run_id)
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        self._require_connection("publish")
        timeout = self._settings.publish_timeout_seconds
        with unavailable_on_nats_errors(self._where, "acked publish"):
            async with asyncio.timeout(timeout):
                await self._publisher.drained()
                ack = await self._js.publish(subject, payload, timeout=timeout, headers=headers)
        return ack.seq

    # --- API side ---------------------------------------------------------------------

    def subscribe(self, run_id: str, *, after_seq: int = 0) -> AsyncGenerator[RunEvent, None]:
        """The run's events with stream sequence > ``after_seq``: the stored ones, then live
        ones, in order, with no gap and no duplicate, until the caller stops iterating.
        Raises BrokerUnavailable from the first ``__anext__`` if it cannot start. Close it
        promptly with ``contextlib.aclosing`` (or leave the loop and drop the iterator)."""
        return self._read(self._subjects.events(run_id), after_seq)

    async def _read(self, subject: str, after_seq: int) -> AsyncGenerator[RunEvent, None]:
        self._require_connection("subscribe")
        with unavailable_on_nats_errors(self._where, f"subscribing to {subject}"):
            inbox, sub = await open_reader(self._js, self._settings.stream, subject, after_seq)
        events = inbox.events
        try:
            while True:
                while events:
                    yield events.popleft()
                await inbox.wait()
        finally:
            await close_reader(sub)

    async def last_seq(self, run_id: str) -> int | None:
        """Stream sequence of the run's last stored event; None if it has none."""
        subject = self._subjects.events(run_id)
        self._require_connection("read the last event")
        with unavailable_on_nats_errors(self._where, f"reading the last event of {subject}"):
            try:
                message = await self._js.get_last_msg(self._settings.stream, subject)
            except NotFoundError as exc:
                if exc.err_code == _NO_MESSAGE_FOUND:
                    return None
                raise
        return message.seq

    async def purge_run(self, run_id: str) -> None:
        """Delete every stored event of the run (thread deletion)."""
        subject = self._subjects.events(run_id)
        self._require_connection("purge a run")
        with unavailable_on_nats_errors(self._where, f"purging {subject}"):
            await self._js.purge_stream(self._settings.stream, subject=subject)

    # --- Stop fast path ---------------------------------------------------------------

    async def publish_stop(self, run_id: str, payload: bytes) -> None:
        """Tell every process listening for this run to stop it now (not stored: only
        listeners registered at that moment hear it). Returns once the server has it;
        raises BrokerUnavailable at once when not connected, or after
        ``publish_timeout_seconds`` without the server's confirmation (the notice may still
        arrive later)."""
        subject = self._subjects.stop(run_id)
        self._require_connection("send a stop notice")
        with unavailable_on_nats_errors(self._where, "sending a stop notice"):
            await self._nc.publish(subject, payload)
            # Never cancel a nats-py flush: see _FLUSH_GIVE_UP_SECONDS.
            confirmed = self._spawn(self._nc.flush(timeout=_FLUSH_GIVE_UP_SECONDS))
            await asyncio.wait({confirmed}, timeout=self._settings.publish_timeout_seconds)
            if not confirmed.done():
                raise TimeoutError("no confirmation from the server")
            confirmed.result()

    async def on_stop(self, run_id: str, callback: StopCallback) -> StopListener:
        """Call ``callback(payload)`` in the event loop for each stop notice of the run
        until the listener is closed. No round trip; never raises for the connection: while
        NATS is down the listener is silent (it hears notices again once NATS is back)."""
        return self._stops.add(validate_run_id(run_id), callback)

    # --- helpers ----------------------------------------------------------------------

    def _require_connection(self, what: str) -> None:
        if not self._nc.is_connected:
            raise not_connected(self._where, what)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(_forget)
        task.add_done_callback(self._background.discard)
        return task


def _forget(task: asyncio.Task[None]) -> None:
    """Background work reports its own problems; this only marks the exception as seen."""
    if not task.cancelled():
        task.exception()


@contextlib.asynccontextmanager
async def open_broker(
    settings: BrokerSettings, *, name: str | None = None
) -> AsyncIterator[Broker]:
    """Connect, create the stream if NATS is there (else once it is), close at the end."""
    broker = await Broker.connect(settings, name=name)
    try:
        try:
            await broker.ensure_stream()
        except BrokerUnavailable as exc:
            logger.info("%s; the stream is created once NATS is reachable", exc)
        yield broker
    finally:
        await broker.close()
