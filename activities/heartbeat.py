"""Heartbeating between chunks, so a cancel reaches an activity even while it waits, and a
watchdog that makes sure the cancel is not lost on the way.

A cancelled activity only learns of the cancel from a heartbeat response; the worker sends
heartbeats at most once per throttle interval. Recording one every few milliseconds costs a
function call: the RPC rate is set by the worker's throttle (temporal-dev.yaml).

The SDK cancels the activity's task exactly once. A library below us can swallow that one
CancelledError (on Python 3.11, asyncio.wait_for does when the cancel lands as its inner
wait completes), and the stream would then run to its end: seen once in 60 stops in the
stop benchmark. So while the activity is still inside this block after a cancel request,
the ticker cancels it again every REDELIVER_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

TICK_SECONDS = 0.01
REDELIVER_SECONDS = 0.05


async def _tick(owner: asyncio.Task[object]) -> None:
    loop = asyncio.get_running_loop()
    cancel_seen_at: float | None = None
    while True:
        activity.heartbeat()
        if activity.is_cancelled():
            now = loop.time()
            if cancel_seen_at is None:
                cancel_seen_at = now
            elif now - cancel_seen_at >= REDELIVER_SECONDS:
                owner.cancel("activity cancelled (redelivered)")
                cancel_seen_at = now
        await asyncio.sleep(TICK_SECONDS)


@contextlib.asynccontextmanager
async def keep_heartbeating() -> AsyncIterator[None]:
    """Heartbeat while the block runs; the block is where a cancel must land. Catch the
    CancelledError outside the block: inside it, the watchdog would cancel again."""
    owner = asyncio.current_task()
    assert owner is not None
    ticker = asyncio.create_task(_tick(owner))
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
