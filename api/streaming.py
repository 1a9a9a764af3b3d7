"""A run's SSE stream: subscribe to the turn's Workflow Stream and relay it to one client.

A producer task reads the Workflow Stream into a queue so the response can send heartbeat
comments during silence (a long tool call) without cancelling a poll in flight. A stream that
stops without the turn's `end` event (the workflow failed or was terminated) still ends with
`error` and `end`, so clients never hang on a half-finished run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.errors import ApiError
from api.records import RunRecord
from api.run_tracker import RunTracker
from api.runs_service import RunsService
from api.sse import (
    HEARTBEAT,
    StreamContext,
    end_from_outcome,
    ended_without_end,
    format_all,
    format_sse,
    metadata_event,
    to_sse,
)
from core.contracts import StopRequest, TurnEvent

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class _Closed:
    """The subscription ended; `error` says why if it failed."""

    error: str | None = None


_Item = tuple[TurnEvent, int | None] | _Closed


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
    """One client's view of one run's events."""

    def __init__(
        self,
        runs: RunsService,
        run: RunRecord,
        ctx: StreamContext,
        *,
        from_offset: int = 0,
        skip_through: int | None = None,
        with_metadata: bool = True,
        cancel_on_disconnect: StopRequest | None = None,
    ) -> None:
        self._runs = runs
        self._tracker: RunTracker = runs.tracker
        self._run = run
        self._ctx = ctx
        self._from_offset = from_offset
        self._skip_through = skip_through
        """Last-Event-ID `<offset>.<index>`: that batch's events up to `index` were seen."""
        self._with_metadata = with_metadata
        self._cancel_on_disconnect = cancel_on_disconnect

    async def frames(self) -> AsyncGenerator[str, None]:
        if self._with_metadata:
            yield format_sse(metadata_event(self._run.run_id))
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(queue))
        ended = False
        try:
            while not ended:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield HEARTBEAT
                    continue
                frame, ended = await self._render(item)
                if frame:
                    yield frame
        finally:
            producer.cancel()
            if not ended and self._cancel_on_disconnect is not None:
                self._runs.cancel_in_background(self._run, self._cancel_on_disconnect)

    async def _render(self, item: _Item) -> tuple[str, bool]:
        if isinstance(item, _Closed):
            return format_all(ended_without_end(*await self._why_closed(item))), True
        event, offset = item
        events = to_sse(event, offset, self._ctx)
        if offset is not None and offset == self._from_offset and self._skip_through is not None:
            events = events[self._skip_through + 1 :]  # resumed inside this token batch
        return format_all(events), event.kind == "end"

    async def _why_closed(self, closed: _Closed) -> tuple[str, str]:
        try:
            view = await self._tracker.view(await self._tracker.refresh(self._run))
        except ApiError as exc:
            return "error", closed.error or exc.detail
        default = f"the turn's event stream ended without an end event (run {view.status})"
        error = view.outcome.error if view.outcome is not None else None
        return view.status, closed.error or error or default

    async def _produce(self, queue: asyncio.Queue[_Item]) -> None:
        try:
            run = await self._tracker.wait_started(self._run)
            if not run.started:  # stopped or failed while enqueued
                outcome = run.outcome or {"status": run.status or "error"}
                await queue.put((end_from_outcome(outcome), None))
                return
            async for item in self._tracker.subscribe(run, self._from_offset):
                await queue.put((item.data, item.offset))
            await queue.put(_Closed())
        except ApiError as exc:
            logger.warning("stream of run %s failed: %s", self._run.run_id, exc)
            await queue.put(_Closed(exc.detail))
        except Exception as exc:
            logger.exception("stream of run %s failed", self._run.run_id)
            await queue.put(_Closed(f"streaming failed: {type(exc).__name__}: {exc}"))


def stream_context(run: RunRecord, modes: list[str]) -> StreamContext:
    return StreamContext(
        run_id=run.run_id,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        stream_modes=frozenset(modes),
        resumable=bool(run.kwargs.get("stream_resumable")),
    )


def event_stream_response(stream: RunEventStream, run: RunRecord) -> EventStreamResponse:
    resumable = bool(run.kwargs.get("stream_resumable"))
    return EventStreamResponse(stream.frames(), headers=stream_headers(run, resumable=resumable))
