"""One SQLite writer at a time in this process, a Stop's write first.

SQLite has a single writer per file. Writers that collide are parked by SQLite's busy
handler, which sleeps between retries in steps growing to 100 ms, so under a burst a write
that needed a millisecond can wait hundreds. Measured in the API with 60 turns starting at
once: recording a Stop took p50 4.5 ms but p95 124 ms and at worst 860 ms, before the
running call heard of the Stop. Queueing this process's writers here instead hands the file
from one to the next as soon as it is free, and puts an urgent write (a Stop) ahead of the
waiting ones. Only collisions with other processes still meet the busy handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator

URGENT, ROUTINE = 0, 1


class WriterQueue:
    def __init__(self) -> None:
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @contextlib.asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._acquire(URGENT if urgent else ROUTINE)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, rank: int) -> None:
        if not self._held and not self._waiting:
            self._held = True
            return
        entry = (rank, next(self._order), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiting, entry)
        try:
            await entry[2]
        except asyncio.CancelledError:
            if entry[2].done() and not entry[2].cancelled():
                self._release()  # handed the turn in the same moment: pass it on
            elif entry in self._waiting:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            raise

    def _release(self) -> None:
        """Hand the turn to the most urgent, longest waiting writer, or free it."""
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)
                return
        self._held = False


class NoQueue(WriterQueue):
    """For a database with concurrent writers (Postgres): everyone goes at once."""

    @contextlib.asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        yield
