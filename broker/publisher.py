"""Fire-and-forget publishing that never blocks and never raises.

nats-py's ``publish`` is a coroutine, but the model activity hands over tokens from plain
code and must not wait on the network for each. ``publish_nowait`` appends to a local queue;
one pump task hands the queue to nats-py in order, which writes it to the socket in batches.
Because every message goes through the same queue and connection, an acked publish that
first waits for the pump to go idle (``drained``) is stored after all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from nats.aio.client import Client as NATS

logger = logging.getLogger("chatstop.broker")

MAX_QUEUED = 10_000
"""Messages waiting for the pump; more means the connection cannot keep up: drop."""

_Item = tuple[str, bytes, "dict[str, str] | None"]


class NowaitPublisher:
    def __init__(self, nc: NATS, where: str, coalesce_seconds: float = 0.0) -> None:
        self._coalesce = coalesce_seconds
        self._nc = nc
        self._where = where
        self._queue: deque[_Item] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._warned = False
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name="broker-publish-nowait")

    async def close(self, within: float) -> None:
        """Hand what is queued to nats-py (for at most ``within`` seconds: a hung server can
        block the socket), then stop the pump."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.drained()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None) -> None:
        if not self._nc.is_connected or len(self._queue) >= MAX_QUEUED:
            self._drop("not connected" if not self._nc.is_connected else "queue full")
            return
        self._queue.append((subject, payload, headers))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set_result(None)

    async def drained(self) -> None:
        """Until every message queued so far has been handed to nats-py."""
        if (self._queue or self._busy) and self._task is not None:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    def connection_back(self) -> None:
        """A new outage gets its own warning."""
        self._warned = False

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        queue, publish = self._queue, self._nc.publish
        last_write = -self._coalesce
        while True:
            self._busy = True
            if queue:
                last_write = loop.time()
            while queue:
                subject, payload, headers = queue.popleft()
                try:
                    await publish(subject, payload, headers=headers)
                except Exception as exc:  # closed or reconnecting: the message is lost
                    self._drop(f"{type(exc).__name__}: {exc}")
            self._busy = False
            self._wake_idle_waiters()
            self._wakeup = loop.create_future()
            await self._wakeup
            # At most one socket write per window: under load, tokens of concurrent
            # streams share it (measured: a write per token was a sixth of the worker's
            # CPU with 20 streams); a token after a quiet spell, as on a lone stream,
            # leaves at once. The window is the most a token waits.
            pause = last_write + self._coalesce - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)

    def _wake_idle_waiters(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _drop(self, why: Any) -> None:
        self.dropped += 1
        if not self._warned:
            self._warned = True
            logger.warning(
                "dropping live events until NATS at %s is back (%s); Broker.dropped_events "
                "counts them",
                self._where,
                why,
            )
