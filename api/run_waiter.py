"""Waiting for a run to end, without holding anything but the wait itself.

The run's record says whether it ended; the broker's `end` event (published right after the
record is written) wakes the waiter at once, and a slow poll of the record covers a broker
that is down. Every wait is bounded (limits.max_wait_seconds): the API never waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from broker import Broker, BrokerUnavailable
from core.live import Live, decode
from stores.record_store import RecordStore
from stores.records import RunRecord

POLL_SECONDS = 1.0


class RunWaiter:
    def __init__(self, records: RecordStore, broker: Broker, max_wait_seconds: float) -> None:
        self._records = records
        self._broker = broker
        self._max_wait = max_wait_seconds

    async def wait_end(
        self, run: RunRecord, within: float | None = None, *, past_pause: bool = False
    ) -> RunRecord:
        """The run's record once it has ended, or as it is when the wait runs out.
        `past_pause`: a paused end does not count (its waiting turn was just stopped)."""
        limit = min(within or self._max_wait, self._max_wait)
        end_seen = asyncio.create_task(self._end_event(run.run_id, past_pause))
        try:
            async with asyncio.timeout(limit):
                while True:
                    fresh = await self._records.get_run(run.thread_id, run.run_id) or run
                    if not fresh.active and not (past_pause and fresh.paused):
                        return fresh
                    if end_seen.done():  # the record lags its end event: poll it
                        await asyncio.sleep(POLL_SECONDS)
                    else:
                        await asyncio.wait({end_seen}, timeout=POLL_SECONDS)
        except TimeoutError:
            return await self._records.get_run(run.thread_id, run.run_id) or run
        finally:
            end_seen.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await end_seen

    async def _end_event(self, run_id: str, past_pause: bool) -> None:
        """Returns when the run's `end` is on the broker (with `past_pause`, an end other
        than a pause); never if the broker is down."""
        try:
            last = await self._broker.last_seq(run_id)
            events = self._broker.subscribe(run_id, after_seq=max((last or 0) - 1, 0))
            async with contextlib.aclosing(events):
                async for event in events:
                    kind, body = decode(event.data)
                    if kind == Live.END and not (past_pause and _paused(body)):
                        return
        except BrokerUnavailable:
            await asyncio.Event().wait()


def _paused(end_body: bytes) -> bool:
    return bool(orjson.loads(end_body).get("outcome") == "paused")
