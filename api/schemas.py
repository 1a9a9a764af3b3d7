"""Request bodies, as langgraph_sdk sends them.

Unknown fields are ignored (the SDK sends many Agent Server options this API has no use
for, such as webhook or durability), so an SDK upgrade does not turn into 422s. Known
fields are strict: JSON sends real types, so `"5"` is no integer and `false` no offset, and
what the schema promises is exactly what is accepted.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from core.ids import RUN_ID_PATTERN, THREAD_ID_PATTERN, THREAD_ID_RULE

MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
CancelAction = Literal["interrupt", "rollback"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _only_portable_numbers(cls, data: Any) -> Any:
        """Python's JSON parser takes NaN, Infinity and integers of any size. None of them
        survives the trip: stored, NaN comes back as null; a 65-bit integer breaks the
        worker's encoders (orjson, msgpack) after the run has started. Refused here."""
        problem = _unportable_number(data, "body")
        if problem is not None:
            raise ValueError(problem)
        return data


INT64 = (-(2**63), 2**63 - 1)


def _unportable_number(value: Any, where: str) -> str | None:
    """What is wrong with the first unportable number in a parsed JSON value, if any
    (iterative: a deeply nested body must not exhaust the stack here)."""
    pending = [(value, where)]
    while pending:
        item, at = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"{at} is NaN or Infinity, which JSON does not allow"
        if isinstance(item, int) and not INT64[0] <= item <= INT64[1]:
            return f"{at} is an integer beyond 64 bits"
        if isinstance(item, dict):
            pending.extend((v, f"{at}.{k}") for k, v in item.items())
        elif isinstance(item, list):
            pending.extend((v, f"{at}[{i}]") for i, v in enumerate(item))
    return None


class ThreadCreate(_Body):
    thread_id: str | None = Field(
        default=None, pattern=THREAD_ID_PATTERN, description=THREAD_ID_RULE
    )
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadSearch(_Body):
    metadata: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "created_at", "updated_at", "status"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"


class AssistantSearch(_Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


# What api/run_input.py accepts as a run's input, for the schema only: validation stays in
# run_input, whose 422s name the message and the problem in words.
_NOT_BLANK = {"type": "string", "pattern": "\\S"}
_CONTENT_PART = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
    "description": "A text part needs a string `text`",
}
_INPUT_MESSAGE = {
    "type": "object",
    "required": ["content"],
    "anyOf": [{"required": ["role"]}, {"required": ["type"]}],
    "properties": {
        "role": {"enum": ["user", "human"]},
        "type": {"enum": ["user", "human"]},
        "content": {
            "anyOf": [_NOT_BLANK, {"type": "array", "minItems": 1, "items": _CONTENT_PART}]
        },
        "id": {"type": "string", "description": "Unique in the thread; omit for a fresh one"},
        "name": {"type": "string"},
    },
}
RUN_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {"anyOf": [_NOT_BLANK, _INPUT_MESSAGE]},
            "description": "User messages only (limits.max_input_messages, max_input_bytes)",
        }
    },
}


STREAM_MODES: tuple[str, ...] = (
    "values",
    "updates",
    "messages-tuple",
    "messages",
    "custom",
    "events",
    "tasks",
    "checkpoints",
    "debug",
)
"""The stream modes the API serves (`messages-tuple` arrives as `event: messages`)."""
_STREAM_MODE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"enum": list(STREAM_MODES)},
        {"type": "array", "items": {"enum": list(STREAM_MODES)}},
        {"type": "null"},
    ]
}


class CheckpointRef(_Body):
    checkpoint_id: str | None = None
    checkpoint_ns: str = ""
    thread_id: str | None = None


class RunCommand(_Body):
    resume: Any = None
    """The answer to the thread's pending interrupt (an approval's `{"decisions": [...]}`)."""
    update: Any = None
    goto: Any = None


class RunCreate(_Body):
    assistant_id: str
    input: Annotated[dict[str, Any] | None, WithJsonSchema(RUN_INPUT_SCHEMA)] = None
    command: RunCommand | None = None
    stream_mode: Annotated[str | list[str] | None, WithJsonSchema(_STREAM_MODE_SCHEMA)] = None
    multitask_strategy: MultitaskStrategy | None = None
    """Default enqueue, like the Agent Server."""
    stream_resumable: bool = False
    stream_subgraphs: bool = False
    on_disconnect: Literal["cancel", "continue"] = "continue"
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None
    """Run on top of this checkpoint (regenerate, edit a message: a fork)."""
    checkpoint_id: str | None = None
    interrupt_before: list[str] | Literal["*"] | None = None
    interrupt_after: list[str] | Literal["*"] | None = None
    if_not_exists: Literal["create", "reject"] = "reject"
    on_completion: Literal["delete", "keep"] | None = None
    """Stateless runs (`POST /runs/...`): delete the thread after the run (the default)."""


class CancelBody(_Body):
    reason: str | None = None


class BulkCancel(_Body):
    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN)
    run_ids: list[Annotated[str, StringConstraints(pattern=RUN_ID_PATTERN)]] | None = None
    status: Literal["pending", "running", "all"] | None = None


class ThreadPatch(_Body):
    metadata: dict[str, Any] = Field(default_factory=dict)


class StateUpdate(_Body):
    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None


class StateAt(_Body):
    checkpoint: CheckpointRef
    subgraphs: bool = False


class HistoryQuery(_Body):
    limit: int = Field(default=10, ge=1, le=1000)
    before: CheckpointRef | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None
