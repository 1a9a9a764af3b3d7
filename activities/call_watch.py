"""Watching a running model or tool call: why it must stop, and making sure it does.

A call stops for one of four reasons, and each ends differently:
- the user's Stop, heard first as the broker's stop notice (the fast path, milliseconds) or
  as Temporal's cancel on a heartbeat response (the fallback, within the heartbeat
  throttle): the call returns what it has, marked stopped;
- a worker shutdown (every deploy): the SDK cancels the call too, but this must not look
  like a Stop, or the answer is lost: the attempt fails and Temporal retries it elsewhere;
- a stalled model stream (no chunk for the idle timeout): a retryable failure, named so;
- nothing: the call finishes.

Heartbeats are liveness only: one every HEARTBEAT_SECONDS is recorded, and the worker
throttles the RPCs (temporal-dev.yaml). The SDK cancels the task exactly once; a library
below us can swallow that CancelledError (Python 3.11's asyncio.wait_for does when it lands
as its inner wait completes), so once a stop is known the watch cancels again every
REDELIVER_SECONDS until the call has left the watched block.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator

from temporalio import activity

from broker import Broker

HEARTBEAT_SECONDS = 1.0
REDELIVER_SECONDS = 0.05


class StopCause(enum.Enum):
    NONE = "none"
    USER = "user"
    SHUTDOWN = "worker shutdown"
    STALLED = "stalled"


class CallWatch:
    def __init__(self, owner: asyncio.Task[object], idle_timeout: float | None) -> None:
        self._owner = owner
        self._idle_timeout = idle_timeout
        self._loop = asyncio.get_running_loop()
        self._last_progress = self._loop.time()
        self._notice = False
        self._stalled = False
        self._stop_seen = asyncio.Event()

    def progress(self) -> None:
        """Data arrived (a chunk): the stream is not stalled."""
        self._last_progress = self._loop.time()

    def on_notice(self, _payload: bytes) -> None:
        """The broker's stop notice for this run: stop now."""
        self._notice = True
        self._stop(cancel=True)

    def cause(self) -> StopCause:
        if self._stalled:
            return StopCause.STALLED
        if self._notice:
            return StopCause.USER
        return cancel_cause(None)

    @property
    def stop_requested(self) -> bool:
        return self._notice or self._stalled or activity.is_cancelled()

    def _stop(self, *, cancel: bool) -> None:
        if not self._stop_seen.is_set():
            self._stop_seen.set()
            if cancel:
                self._owner.cancel("stop notice")

    async def run(self) -> None:
        while True:
            activity.heartbeat()
            if activity.is_cancelled():
                self._stop(cancel=False)  # the SDK already cancelled the task once
            if self._idle_for() > (self._idle_timeout or float("inf")):
                self._stalled = True
                self._stop(cancel=True)
            if self._stop_seen.is_set():
                await self._redeliver()
                return
            woken = asyncio.ensure_future(self._stop_seen.wait())
            try:  # asyncio.wait, unlike wait_for, never swallows our own cancellation
                await asyncio.wait({woken}, timeout=HEARTBEAT_SECONDS)
            finally:
                woken.cancel()

    def _idle_for(self) -> float:
        return self._loop.time() - self._last_progress

    async def _redeliver(self) -> None:
        while True:
            await asyncio.sleep(REDELIVER_SECONDS)
            self._owner.cancel("stop (redelivered)")


def cancel_cause(watch: CallWatch | None = None) -> StopCause:
    """Why the SDK cancelled this activity (or the watch stopped it)."""
    if watch is not None:
        return watch.cause()
    details = activity.cancellation_details()
    if details is not None and details.worker_shutdown:
        return StopCause.SHUTDOWN
    return StopCause.USER if activity.is_cancelled() else StopCause.NONE


@contextlib.asynccontextmanager
async def watched_call(
    broker: Broker, run_id: str, *, idle_timeout: float | None = None
) -> AsyncIterator[CallWatch]:
    """Watch the block: the CancelledError of a stop lands inside it. Catch it outside the
    block (inside, the watch would cancel again) and ask `watch.cause()` why."""
    owner = asyncio.current_task()
    assert owner is not None
    watch = CallWatch(owner, idle_timeout)
    listener = await broker.on_stop(run_id, watch.on_notice)
    ticker = asyncio.create_task(watch.run())
    try:
        yield watch
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await listener.close()
