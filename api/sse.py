"""A run's live events (core.live) -> the Agent Server's SSE events, per client.

Tokens are relayed as the bytes the worker wrote: the body of a `messages` live event is
already the `[chunk, metadata]` pair of the `messages-tuple` mode, so the commonest event
costs the API no JSON work. Two chatstop events ride on the `custom` channel:
`chatstop.reset` (a retried model call or tool restarts: drop what was shown for it) and
`chatstop.tool` (tool progress).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from api.sse_modes import EventsMode, LegacyMessages
from api.values import ValuesExpander
from core.live import Live, decode

HEARTBEAT = b": heartbeat\n\n"
MESSAGE_MODES = frozenset({"messages", "messages-tuple"})
PASSED_THROUGH = frozenset({Live.UPDATES, Live.CUSTOM, Live.TASKS, Live.CHECKPOINTS, Live.DEBUG})


@dataclass(frozen=True, kw_only=True)
class StreamContext:
    run_id: str
    thread_id: str
    assistant_id: str
    stream_modes: frozenset[str]
    resumable: bool = False
    """Resumable streams tag each event with its broker sequence (SSE `id`)."""


def frame(event: str, data: bytes, event_id: int | str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n"
    if event_id is not None:
        head += b"id: " + str(event_id).encode() + b"\n"
    return head + b"data: " + data + b"\n\n"


def metadata_frame(run_id: str) -> bytes:
    return frame("metadata", orjson.dumps({"run_id": run_id, "attempt": 1}))


class SseMapper:
    """Maps one client's live events; holds what a stream needs across events."""

    def __init__(self, ctx: StreamContext, values: ValuesExpander) -> None:
        self.ctx = ctx
        self._values = values
        self._tuples = "messages-tuple" in ctx.stream_modes
        self._wants_messages = bool(ctx.stream_modes & MESSAGE_MODES)
        self._legacy = LegacyMessages() if "messages" in ctx.stream_modes else None
        self._events = EventsMode(ctx.run_id) if "events" in ctx.stream_modes else None

    async def render(self, payload: bytes, seq: int | None) -> tuple[bytes, bool]:
        """(SSE bytes, possibly empty; True if this was the run's `end`)."""
        kind, body = decode(payload)
        event_id = seq if self.ctx.resumable else None
        text, ended = await self._render(kind, body, event_id)
        derived = self._derived(kind, body)
        if not derived:
            return text, ended
        if ended:  # `end` stays the last event, and keeps its id
            return b"".join(frame(name, orjson.dumps(data)) for name, data in derived) + text, ended
        # One live event, several SSE events: only the last carries the id, so a client
        # resuming from it has seen them all, and one resuming earlier sees them all again.
        head = text.replace(b"id: %d\n" % event_id, b"") if event_id is not None else text
        frames = [frame(name, orjson.dumps(data)) for name, data in derived[:-1]]
        last_name, last_data = derived[-1]
        return head + b"".join(frames) + frame(last_name, orjson.dumps(last_data), event_id), ended

    def _derived(self, kind: str, body: bytes) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if kind == Live.MESSAGES and self._legacy is not None:
            out += self._legacy.frames(body)
        if self._events is not None:
            if kind == Live.MESSAGES:
                out += self._events.messages(body)
            elif kind == Live.UPDATES:
                out += self._events.updates(body)
            elif kind == Live.END:
                out += self._events.end(body)
        return out

    async def _render(self, kind: str, body: bytes, event_id: int | None) -> tuple[bytes, bool]:
        modes = self.ctx.stream_modes
        if kind == Live.MESSAGES:
            return (frame("messages", body, event_id) if self._tuples else b""), False
        if kind == Live.END:
            return frame("end", body, event_id), True
        if kind == Live.METADATA:
            return frame("metadata", body, event_id), False
        if kind == Live.ERROR:
            return frame("error", body, event_id), False
        if kind == Live.VALUES:
            if "values" not in modes:
                return b"", False
            return frame("values", await self._values.expand(body), event_id), False
        if kind in PASSED_THROUGH:
            return (frame(kind, body, event_id) if kind in modes else b""), False
        return self._custom(kind, body, event_id), False

    def _custom(self, kind: str, body: bytes, event_id: int | None) -> bytes:
        if kind == Live.RESET and (self._wants_messages or "custom" in self.ctx.stream_modes):
            return frame("custom", _tagged("chatstop.reset", body), event_id)
        if kind == Live.PROGRESS and "custom" in self.ctx.stream_modes:
            return frame("custom", _tagged("chatstop.tool", body), event_id)
        return b""


def _tagged(kind: str, body: bytes) -> bytes:
    data: dict[str, Any] = orjson.loads(body)
    return orjson.dumps({"type": kind, **data})


def error_frame(error: str, message: str) -> bytes:
    return frame("error", orjson.dumps({"error": error, "message": message}))


def end_frame(outcome: dict[str, Any]) -> bytes:
    """The `end` of a run whose live events are gone (retention) or never came (a broker
    outage): rebuilt from the run's record."""
    fields = ("status", "outcome", "stop", "kept", "undone", "not_undone", "error")
    return frame("end", orjson.dumps({key: outcome.get(key) for key in fields}))
