"""TurnEvents (the turn's Workflow Stream items) -> Agent Server SSE events. Pure functions.

The mapping follows what langgraph_sdk clients expect per stream mode. Two chatstop events
ride on the `custom` channel: `chatstop.reset` (a retried model call restarts a message:
drop what was shown for that message id) and `chatstop.tool` (tool progress).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.contracts import TurnEvent

HEARTBEAT = ": heartbeat\n\n"
MESSAGE_MODES = frozenset({"messages", "messages-tuple"})


@dataclass(frozen=True, kw_only=True)
class StreamContext:
    run_id: str
    thread_id: str
    assistant_id: str
    stream_modes: frozenset[str]
    resumable: bool = False
    """Resumable streams tag each event with its Workflow Stream offset (SSE `id`)."""


@dataclass(frozen=True, kw_only=True)
class SseEvent:
    event: str
    data: Any
    id: str | None = None


def metadata_event(run_id: str) -> SseEvent:
    return SseEvent(event="metadata", data={"run_id": run_id, "attempt": 1})


def to_sse(event: TurnEvent, offset: int | None, ctx: StreamContext) -> list[SseEvent]:
    """The SSE events for one TurnEvent (none when the client's stream modes exclude it).

    A `tokens` event carries every token of one flush; each becomes its own `messages`
    event, id'd `<offset>.<index>` so a client can resume in the middle of a batch."""
    resumable = ctx.resumable and offset is not None
    if event.kind == "tokens":
        if not ctx.stream_modes & MESSAGE_MODES:
            return []
        return [
            SseEvent(
                event="messages",
                data=[_chunk(event.data, text), _chunk_metadata(event.data, ctx)],
                id=f"{offset}.{index}" if resumable else None,
            )
            for index, text in enumerate(event.data.get("texts", []))
        ]
    mapped = _map(event, ctx)
    if mapped is None:
        return []
    name, data = mapped
    return [SseEvent(event=name, data=data, id=str(offset) if resumable else None)]


def _map(event: TurnEvent, ctx: StreamContext) -> tuple[str, Any] | None:
    modes = ctx.stream_modes
    wants_messages = bool(modes & MESSAGE_MODES)
    data = event.data
    if event.kind == "reset" and (wants_messages or "custom" in modes):
        return "custom", {"type": "chatstop.reset", **data}
    if event.kind in ("updates", "values") and event.kind in modes:
        return event.kind, data
    if event.kind == "tool" and "custom" in modes:
        return "custom", {"type": "chatstop.tool", **data}
    if event.kind == "error":
        return "error", {"error": data.get("error", "Error"), "message": data.get("message", "")}
    if event.kind == "end":
        return "end", data
    return None


def _chunk(data: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "type": "AIMessageChunk",
        "content": text,
        "id": data.get("message_id"),
        "tool_calls": [],
        "tool_call_chunks": [],
        "additional_kwargs": {},
        "response_metadata": {},
        "invalid_tool_calls": [],
    }


def _chunk_metadata(data: dict[str, Any], ctx: StreamContext) -> dict[str, Any]:
    return {
        "langgraph_node": data.get("node"),
        "run_id": ctx.run_id,
        "thread_id": ctx.thread_id,
        "assistant_id": ctx.assistant_id,
    }


def ended_without_end(status: str, message: str) -> list[SseEvent]:
    """What a client gets when the stream stops without the turn's own `end` event."""
    terminal = status if status in ("error", "timeout", "interrupted", "success") else "error"
    return [
        SseEvent(event="error", data={"error": "RunEndedUnexpectedly", "message": message}),
        SseEvent(
            event="end",
            data={
                "status": terminal,
                "outcome": "error",
                "stop": None,
                "kept": [],
                "undone": [],
                "not_undone": [],
                "error": message,
            },
        ),
    ]


def end_from_outcome(outcome: dict[str, Any]) -> TurnEvent:
    """The `end` event of a run that ended without streaming (stopped while enqueued)."""
    fields = ("status", "outcome", "stop", "kept", "undone", "not_undone", "error")
    return TurnEvent(kind="end", data={key: outcome.get(key) for key in fields})


def format_sse(event: SseEvent) -> str:
    lines = [f"event: {event.event}"]
    if event.id is not None:
        lines.append(f"id: {event.id}")
    lines.append(f"data: {json.dumps(event.data, separators=(',', ':'), default=str)}")
    return "\n".join(lines) + "\n\n"


def format_all(events: Iterable[SseEvent]) -> str:
    return "".join(format_sse(event) for event in events)
