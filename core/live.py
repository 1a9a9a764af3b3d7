"""A run's live events on the broker: how activities write them and the API reads them.

Each broker message is `<kind>\\n<JSON body>`. The kind is readable without parsing the JSON,
so the API relays the commonest event, a token, straight into SSE (`event: messages`, the
body unchanged) and only parses what it has to rewrite. Bodies already have the Agent
Server's shapes: a `messages` body is the `[message chunk, metadata]` pair of the
`messages-tuple` stream mode.

Live events are throw-away: the record of a turn is its Temporal history and the committed
thread. They make the stream fast and resumable (the broker's sequence is the SSE id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


class Live(StrEnum):
    METADATA = "metadata"
    """The stream's first event: `{run_id, attempt}` (the API publishes it at creation)."""
    MESSAGES = "messages"
    """A token chunk or a whole message (a ToolMessage), as `[message, metadata]`."""
    RESET = "reset"
    """A retried model call or tool restarts: drop what was shown for that message or call."""
    PROGRESS = "progress"
    """A tool's progress report."""
    UPDATES = "updates"
    VALUES = "values"
    """Graph state; its messages are a reference to the stored thread plus what is new."""
    TASKS = "tasks"
    CHECKPOINTS = "checkpoints"
    DEBUG = "debug"
    CUSTOM = "custom"
    ERROR = "error"
    END = "end"
    """Always last: how the run ended (status, outcome, stop, kept, undone)."""


_SEPARATOR = b"\n"


def encode(kind: Live, body: Any) -> bytes:
    return kind.value.encode() + _SEPARATOR + orjson.dumps(body, default=_default)


def encode_json(kind: Live, body_json: bytes) -> bytes:
    """For a body the caller already serialised (the token fast path)."""
    return kind.value.encode() + _SEPARATOR + body_json


def decode(payload: bytes) -> tuple[str, bytes]:
    """(kind, JSON body). An unknown kind is returned as is: readers skip what they don't know."""
    kind, _, body = payload.partition(_SEPARATOR)
    return kind.decode(), body


def body_of(payload: bytes) -> Any:
    return orjson.loads(decode(payload)[1])


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


@dataclass(frozen=True, kw_only=True)
class OutboxEvent:
    """An event the turn workflow produced. A workflow cannot do I/O, so the next activity
    publishes it (before anything of its own, so order holds) under the message id
    `<run>:o<seq>`: whichever activity publishes it first wins, repeats are dropped."""

    seq: int
    kind: str
    body: Any = None


@dataclass(frozen=True, kw_only=True)
class HistoryRef:
    """Messages [start, start + count) of a thread at a checkpoint: how the workflow refers
    to a long thread without carrying it in every payload."""

    thread_id: str
    checkpoint_id: str | None
    start: int = 0
    count: int = 0


@dataclass(frozen=True, kw_only=True)
class LiveValues:
    """The body of a `values` event: the state with its older messages by reference."""

    base: HistoryRef
    values: dict[str, Any] = field(default_factory=dict)
