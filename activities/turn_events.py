"""Publishing TurnEvents from an activity to its turn's Workflow Stream, on a flush schedule
that spends the workflow history budget where latency matters most.

Every flush is a signal, and every signal (with the subscriber's poll it wakes) costs the turn
about nine history events (measured). A fixed 20 ms batch gives ~50 ms token latency but
would pass Temporal's 10,240-event warning within a minute of streaming. So:
- the tokens of one flush travel as ONE `tokens` event (one payload, one signal); the API fans
  them back out into one SSE event per token;
- the flush interval starts at `batch_interval_ms` (fast first tokens) and grows by
  `batch_growth_ms_per_s` per second of streaming, up to `max_batch_interval_ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from temporalio.contrib.workflow_streams import WorkflowStreamClient

from core.contracts import EVENTS_TOPIC, TurnEvent
from core.settings import StreamingSettings

log = logging.getLogger(__name__)
_NEVER = timedelta(days=1)  # the library's own timer is replaced by the schedule below


def flush_interval(streaming: StreamingSettings, elapsed_seconds: float) -> float:
    """Seconds until the next flush, `elapsed_seconds` into the stream."""
    grown = streaming.batch_interval_ms + streaming.batch_growth_ms_per_s * elapsed_seconds
    return min(grown, streaming.max_batch_interval_ms) / 1000


class TurnEventPublisher:
    """Buffers token texts between flushes; other events go out at the next flush, which they
    bring forward (with the tokens before them, so order is kept).

    It never uses the library's force_flush: that wakes a flusher blocked in asyncio.wait_for,
    and on Python 3.11 wait_for swallows a cancel that lands as it wakes, so the client's exit
    would wait forever for a flusher that missed its cancel."""

    def __init__(self, client: WorkflowStreamClient, message: dict[str, Any]) -> None:
        self._client = client
        self._topic = client.topic(EVENTS_TOPIC, type=TurnEvent)
        self._message = message
        self._texts: list[str] = []
        self._wake = asyncio.Event()

    def token(self, text: str) -> None:
        self._texts.append(text)

    def publish(self, event: TurnEvent) -> None:
        self.move_tokens()
        self._topic.publish(event)
        self._wake.set()

    def move_tokens(self) -> None:
        """This flush's tokens become ONE event in the client's buffer."""
        if self._texts:
            self._topic.publish(
                TurnEvent(kind="tokens", data={**self._message, "texts": self._texts})
            )
            self._texts = []

    async def run_schedule(self, streaming: StreamingSettings) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            woken = asyncio.ensure_future(self._wake.wait())
            try:  # asyncio.wait, unlike wait_for, never swallows our own cancellation
                await asyncio.wait(
                    {woken}, timeout=flush_interval(streaming, loop.time() - started)
                )
            finally:
                woken.cancel()
            self._wake.clear()
            self.move_tokens()
            try:
                await self._client.flush()  # one signal: new tokens wait in self._texts
            except Exception as err:  # the closing flush retries and reports what is left
                log.warning("stream flush failed, will retry: %s", err)


@contextlib.asynccontextmanager
async def turn_events(
    streaming: StreamingSettings, message: dict[str, Any] | None = None
) -> AsyncIterator[TurnEventPublisher]:
    """The current activity's publisher; `message` (id, node) labels its token batches.
    Whatever is still buffered is sent when the block exits."""
    async with WorkflowStreamClient.from_within_activity(batch_interval=_NEVER) as client:
        publisher = TurnEventPublisher(client, message or {})
        schedule = asyncio.create_task(publisher.run_schedule(streaming))
        try:
            yield publisher
        finally:
            schedule.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await schedule
            publisher.move_tokens()  # the client's exit sends them
