"""Turning an Agent Server run request into the turn's input.

Clients send messages in either the OpenAI-like form ({"role": "user", "content": ...}) or
LangChain's flat form ({"type": "human", ...}); the workflow only ever sees the flat form,
and every message gets an id up front so a retried or rolled-back turn can name it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from api.errors import InvalidInputError, PayloadTooLargeError
from api.schemas import STREAM_MODES, RunCreate
from core.contracts import Message, turn_workflow_id
from core.messages import from_dict, text_of
from core.settings import LimitSettings
from stores.records import RunRecord, utc_now

DEFAULT_STREAM_MODES: tuple[str, ...] = ("values",)
SERVED_STREAM_MODES = STREAM_MODES
ALL_STREAM_MODES: tuple[str, ...] = ("values", "updates", "messages-tuple", "custom")
"""What a join without stream modes relays (the run's own modes, if it had some)."""
GRAPH_STREAM_MODES = ("tasks", "checkpoints", "debug")
"""Modes the graph itself must produce (the others the API derives)."""
_HUMAN_KINDS = ("user", "human")
PREVIEW_CHARS = 200
SUMMARY_CHARS = 80


def normalize_input(raw: Any) -> list[Message]:
    """The run's input messages as flat human-message dicts, or InvalidInputError."""
    messages = raw.get("messages") if isinstance(raw, dict) else None
    if not isinstance(messages, list) or not messages:
        raise InvalidInputError(
            'input.messages must be a non-empty list, e.g. {"messages": '
            '[{"role": "user", "content": "hello"}]}'
        )
    normalized = [normalize_message(message, index) for index, message in enumerate(messages)]
    _refuse_repeated_ids(normalized)
    return normalized


def _refuse_repeated_ids(messages: list[Message]) -> None:
    """Messages merge by id: a repeated id would silently drop the earlier message."""
    first: dict[str, int] = {}
    for index, message in enumerate(messages):
        earlier = first.setdefault(message["id"], index)
        if earlier != index:
            raise InvalidInputError(
                f"input.messages[{index}].id {message['id']!r} repeats input.messages"
                f"[{earlier}].id; each message needs its own id"
            )


def normalize_message(raw: Any, index: int) -> Message:
    where = f"input.messages[{index}]"
    if isinstance(raw, str):
        raw = {"type": "human", "content": raw}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where} must be an object with role/type and content")
    kind = raw.get("type") or raw.get("role")
    if kind not in _HUMAN_KINDS:
        raise InvalidInputError(
            f"{where}: only user messages can start a turn (role 'user' or type 'human'),"
            f" got {kind!r}"
        )
    content = raw.get("content")
    if not isinstance(content, (str, list)):
        raise InvalidInputError(f"{where}.content must be a string or a list of content parts")
    if isinstance(content, list):
        _check_parts(content, where)
    message: Message = {"type": "human", "content": content, "id": _message_id(raw, where)}
    if isinstance(raw.get("name"), str):
        message["name"] = raw["name"]
    _validate(message, where)
    if not text_of(message).strip() and not _has_non_text_part(content):
        raise InvalidInputError(f"{where}.content is empty")
    return message


def _check_parts(parts: list[Any], where: str) -> None:
    for index, part in enumerate(parts):
        at = f"{where}.content[{index}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise InvalidInputError(f"{at} must be an object with a string `type`")
        # Any part's `text` is read as text (previews, the empty check, the model's prompt).
        wants_text = part["type"] == "text" or "text" in part
        if wants_text and not isinstance(part.get("text"), str):
            raise InvalidInputError(f"{at}.text must be a string")


def _message_id(raw: dict[str, Any], where: str) -> str:
    given = raw.get("id")
    if given is None or given == "":
        return str(uuid.uuid4())
    if not isinstance(given, str):
        raise InvalidInputError(f"{where}.id must be a string")
    return given


def _validate(message: Message, where: str) -> None:
    """LangChain must accept the message, or the worker would fail on it later."""
    try:
        from_dict(message)
    except (ValidationError, ValueError) as exc:
        raise InvalidInputError(f"{where} is not a valid message: {exc}") from exc


def _has_non_text_part(content: str | list[Any]) -> bool:
    return isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") not in (None, "text") for part in content
    )


def normalize_stream_modes(raw: str | Sequence[str] | None) -> list[str] | None:
    """Stream modes as a list without blanks or duplicates; None when none were given."""
    if raw is None:
        return None
    items = [raw] if isinstance(raw, str) else list(raw)
    modes: list[str] = []
    for item in items:
        for mode in str(item).split(","):
            if mode.strip() and mode.strip() not in modes:
                modes.append(mode.strip())
    return modes or None


def preview_text(messages: list[Message], limit: int = PREVIEW_CHARS) -> str:
    """The user's words, for the workflow memo and summary shown in the Temporal Web UI."""
    text = " ".join(text_of(message).strip() for message in messages).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def new_run_record(
    thread_id: str,
    body: RunCreate,
    caller: str,
    *,
    streaming: bool,
    limits: LimitSettings,
    run_id: str | None = None,
) -> RunRecord:
    """A new run's record; its input is validated here, before anything is stored. A run
    that answers a pending interrupt (`command.resume`) or continues from a breakpoint
    (input null) has no input messages."""
    if _unsupported_command(body):
        raise InvalidInputError(
            'command.update and command.goto (other than "__end__") are not supported; use '
            "command.resume, or POST /threads/{thread_id}/state to change the thread's state"
        )
    messages = [] if _no_input(body) else normalize_input(body.input)
    check_input_size(messages, limits)
    modes = normalize_stream_modes(body.stream_mode)
    check_stream_modes(modes)
    if streaming and modes is None:
        modes = list(DEFAULT_STREAM_MODES)
    strict_json("metadata", body.metadata)
    strict_json("config", body.config)
    now = utc_now()
    run_id = run_id or str(uuid.uuid4())
    return RunRecord(
        run_id=run_id,
        workflow_id=turn_workflow_id(thread_id, run_id),
        thread_id=thread_id,
        assistant_id=body.assistant_id,
        user_id=caller,
        created_at=now,
        updated_at=now,
        metadata=body.metadata or {},
        multitask_strategy=body.multitask_strategy or "enqueue",
        kwargs={
            "input": {"messages": messages} if messages else None,
            "command": body.command.model_dump() if body.command is not None else None,
            "stream_mode": modes,
            "stream_resumable": body.stream_resumable,
            "on_disconnect": body.on_disconnect,
            "config": body.config or {},
            "checkpoint_id": body.checkpoint_id
            or (body.checkpoint.checkpoint_id if body.checkpoint else None),
            "interrupt_before": body.interrupt_before,
            "interrupt_after": body.interrupt_after,
        },
    )


END = "__end__"


def ends_the_turn(goto: Any) -> bool:
    """`command.goto` to the graph's end: agent-chat-ui's "Mark as Resolved"."""
    return goto == END or goto == [END]


def _unsupported_command(body: RunCreate) -> bool:
    command = body.command
    if command is None:
        return False
    goto_elsewhere = command.goto is not None and not ends_the_turn(command.goto)
    return command.update is not None or goto_elsewhere


def _no_input(body: RunCreate) -> bool:
    """A run without new messages: it continues from a breakpoint (input null) or answers a
    pending interrupt, where useStream sends `input: {}` beside `command.resume`."""
    if body.input is None:
        return True
    if body.command is None:
        return False
    if body.input in ({}, {"messages": []}):
        return True
    raise InvalidInputError(
        "A run with a command takes no input messages: send command.resume alone, or new "
        "messages alone (they supersede the pending interrupt)"
    )


def check_input_size(messages: list[Message], limits: LimitSettings) -> None:
    """Refuse what Temporal would refuse later (a 2 MB payload) or what would wedge a turn,
    before anything starts."""
    if len(messages) > limits.max_input_messages:
        raise InvalidInputError(
            f"input.messages has {len(messages)} messages; at most "
            f"{limits.max_input_messages} per run"
        )
    size = len(json.dumps(messages))
    if size > limits.max_input_bytes:
        raise PayloadTooLargeError(
            f"input.messages is {size} bytes; at most {limits.max_input_bytes} per run"
        )


def check_stream_modes(modes: list[str] | None) -> None:
    unknown = [mode for mode in modes or [] if mode not in SERVED_STREAM_MODES]
    if unknown:
        raise InvalidInputError(
            f"stream_mode {', '.join(map(repr, unknown))} is not supported; supported: "
            + ", ".join(SERVED_STREAM_MODES)
        )


def strict_json(name: str, value: Any) -> None:
    """NaN and Infinity are not JSON: refuse them now, not after the run started."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise InvalidInputError(f"{name} is not valid JSON: {exc}") from exc


def idempotent_run_id(owner: str, thread_id: str, key: str | None) -> str | None:
    """The run id for an `Idempotency-Key`: the same request retried is the same run."""
    if not key:
        return None
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"chatstop:{owner}:{thread_id}:{key}"))
