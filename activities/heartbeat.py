"""Heartbeating between chunks, so a cancel reaches an activity even while it waits.

A cancelled activity only learns of the cancel from a heartbeat response; the worker sends
heartbeats at most once per throttle interval. Recording one every few milliseconds costs a
function call: the RPC rate is set by the worker's throttle (temporal-dev.yaml).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

TICK_SECONDS = 0.01


async def _tick() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(TICK_SECONDS)


@contextlib.asynccontextmanager
async def keep_heartbeating() -> AsyncIterator[None]:
    ticker = asyncio.create_task(_tick())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
