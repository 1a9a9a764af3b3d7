"""A run's SSE stream: the run's live events from the broker, relayed to one client.

A reader task fills a queue so the response can send heartbeat comments during silence (a
long tool call). Resuming is exact: the SSE id is the broker's sequence, the same for every
API replica. When the live events are gone (retention) or cannot come (the broker is down),
the stream ends from the durable record instead: the thread's values and the run's `end`.
A stream therefore always ends with `end`, and never waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import anyio
import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.runs_service import RunsService
from api.sse import HEARTBEAT, SseMapper, end_frame, frame, metadata_frame
from broker import Broker, BrokerUnavailable, RunEvent
from core.contracts import StopRequest
from stores.records import RunRecord
from stores.thread_store import ThreadStore

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class _BrokerGone:
    error: str


class EventStreamResponse(StreamingResponse):
    """Listens for the client going away whatever the ASGI version, and always closes the
    event generator, so a disconnect is seen at once (on_disconnect=cancel) and no
    subscription outlives its client."""

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    with contextlib.suppress(OSError):  # the client went away mid-write
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()


def stream_headers(run: RunRecord, *, resumable: bool) -> dict[str, str]:
    """Content-Location is how langgraph_sdk learns the run id; Location lets it reconnect."""
    base = f"/threads/{run.thread_id}/runs/{run.run_id}"
    headers = {"Content-Location": base, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if resumable:
        headers["Location"] = f"{base}/stream"
    return headers


class RunEventStream:
    def __init__(
        self,
        runs: RunsService,
        broker: Broker,
        threads: ThreadStore,
        run: RunRecord,
        mapper: SseMapper,
        *,
        after_seq: int = 0,
        with_metadata: bool = True,
        cancel_on_disconnect: StopRequest | None = None,
    ) -> None:
        self._runs = runs
        self._broker = broker
        self._threads = threads
        self._run = run
        self._mapper = mapper
        self._after_seq = after_seq
        self._with_metadata = with_metadata
        self._cancel_on_disconnect = cancel_on_disconnect

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """A fresh stream's `metadata` comes from the broker like every event (so it has
        an id, as resumable clients expect); only without a broker is it made up here."""
        if await self._already_seen_the_end():
            return
        queue: asyncio.Queue[RunEvent | _BrokerGone] = asyncio.Queue()
        reader = asyncio.create_task(self._read(queue))
        ended = False
        try:
            while not ended:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    ended, text = await self._end_if_settled(idle=True)
                    yield text or HEARTBEAT
                    continue
                if isinstance(item, _BrokerGone):
                    if self._with_metadata:
                        yield metadata_frame(self._run.run_id)
                    yield await self._end_from_record(wait=True)
                    ended = True
                    continue
                text, ended = await self._mapper.render(item.data, item.seq)
                if text:
                    yield text
        finally:
            reader.cancel()
            if not ended and self._cancel_on_disconnect is not None:
                self._runs.stops.stop_in_background(self._run, self._cancel_on_disconnect)

    async def _read(self, queue: asyncio.Queue[RunEvent | _BrokerGone]) -> None:
        try:
            events = self._broker.subscribe(self._run.run_id, after_seq=self._after_seq)
            async with contextlib.aclosing(events):
                async for event in events:
                    queue.put_nowait(event)
        except BrokerUnavailable as exc:
            logger.warning("run %s streams from its record: %s", self._run.run_id, exc)
            queue.put_nowait(_BrokerGone(str(exc)))

    async def _already_seen_the_end(self) -> bool:
        """A client resuming after the run's last event gets nothing more, cleanly."""
        if self._after_seq <= 0:
            return False
        run = await self._fresh()
        if run.active:
            return False
        try:
            last = await self._broker.last_seq(run.run_id)
        except BrokerUnavailable:
            return False
        return last is not None and last <= self._after_seq

    async def _end_if_settled(self, *, idle: bool) -> tuple[bool, bytes]:
        """Silence: if the record says the run ended but its `end` never came (the events
        expired, or were lost), end from the record."""
        run = await self._fresh()
        if run.active:
            return False, b""
        try:
            last = await self._broker.last_seq(run.run_id)
        except BrokerUnavailable:
            last = None
        if last is not None and last > self._after_seq and not idle:
            return False, b""
        return True, await self._end_from_record(wait=False)

    async def _end_from_record(self, *, wait: bool) -> bytes:
        run = await self._runs.waiter.wait_end(self._run) if wait else await self._fresh()
        text = b""
        if "values" in self._mapper.ctx.stream_modes:
            messages = await self._threads.messages(run.thread_id)
            text += frame("values", orjson.dumps({"messages": messages}))
        return text + end_frame(run.outcome or {"status": run.status})

    async def _fresh(self) -> RunRecord:
        return await self._runs.records.get_run(self._run.thread_id, self._run.run_id) or self._run


def event_stream_response(stream: RunEventStream, run: RunRecord) -> EventStreamResponse:
    resumable = bool(run.kwargs.get("stream_resumable"))
    return EventStreamResponse(stream.frames(), headers=stream_headers(run, resumable=resumable))
