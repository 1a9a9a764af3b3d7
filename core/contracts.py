"""The data that crosses process boundaries: API -> thread workflow -> turn -> activities.

Every workflow, update, signal and activity payload is one frozen dataclass. New fields get
defaults so histories recorded by older versions still decode. Messages travel in LangChain's
serialized form (core.messages) because that is also what the Agent Server protocol shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from core.live import HistoryRef, OutboxEvent

TURN_WORKFLOW = "ChatTurn"
THREAD_WORKFLOW = "ChatThread"

# Search attributes: the Web UI and `temporal workflow list --query` filter on these.
SA_THREAD_ID = "ThreadId"
SA_USER_ID = "UserId"
SA_TURN_STATUS = "TurnStatus"
SA_STOPPED_BY = "StoppedBy"

StopAction = Literal["interrupt", "rollback"]
RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
TurnStatus = Literal["running", "completed", "stopped", "rolled_back", "error"]
Message = dict[str, Any]


def turn_workflow_id(thread_id: str, run_id: str) -> str:
    """A turn's workflow id carries its thread and run, so the Web UI shows where it belongs."""
    return f"turn:{thread_id}:{run_id}"


def thread_workflow_id(thread_id: str) -> str:
    return f"thread:{thread_id}"


@dataclass(frozen=True, kw_only=True)
class StopRequest:
    """Who stopped a turn, how and why. Travels as the workflow cancellation reason, so the
    stop is recorded in history by Temporal itself and a plain cancel from the Web UI or
    `temporal workflow cancel` (reason: free text or empty) reads as an interrupt."""

    action: StopAction = "interrupt"
    actor: str = "temporal"
    reason: str = ""

    def to_cancel_reason(self) -> str:
        return json.dumps({"action": self.action, "actor": self.actor, "reason": self.reason})

    @classmethod
    def from_cancel_reason(cls, text: str | None) -> StopRequest:
        # A cancel sent by another workflow (the thread's, superseding a turn) reaches the
        # turn as "Cancel requested by workflow with run id ... with reason: {...}".
        raw = text or ""
        try:
            data = json.loads(raw[raw.index("{") :]) if "{" in raw else None
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("action") in ("interrupt", "rollback"):
            return cls(
                action=data["action"],
                actor=str(data.get("actor") or "temporal"),
                reason=str(data.get("reason") or ""),
            )
        return cls(action="interrupt", actor="temporal", reason=text or "cancelled in Temporal")


@dataclass(frozen=True, kw_only=True)
class ContextPolicy:
    """How much of a long thread a turn loads: the most recent messages that fit both limits,
    starting at a user message so no tool result is cut from its call. The model sees this
    window; older messages stay in the thread store and in the `values` the API streams."""

    max_messages: int = 200
    max_chars: int = 400_000


@dataclass(frozen=True, kw_only=True)
class TurnLimits:
    """Bounds on one turn. Each may come from the settings, the agent's definition, or the
    run's `config.configurable` (that order, the last one set wins)."""

    max_model_calls: int | None = None
    max_tool_calls: int | None = None
    deadline_seconds: float | None = None
    """Wall-clock limit of the turn's active time (waiting for approval not counted)."""
    approval_timeout_seconds: float | None = None
    """How long a tool call waits for approval before it is rejected (default: a day)."""


@dataclass(frozen=True, kw_only=True)
class TurnInput:
    thread_id: str
    run_id: str
    assistant_id: str
    graph_id: str
    """Key of the graph registry entry (langgraph.json style) that runs this turn."""
    user_id: str
    input_messages: list[Message]
    model_name: str
    heartbeat_timeout_seconds: float = 30.0
    model_max_attempts: int = 3
    tool_max_attempts: int = 3
    context: ContextPolicy = field(default_factory=ContextPolicy)
    checkpoint_id: str | None = None
    """Fork: run on top of this checkpoint of the thread instead of its latest state."""
    config: dict[str, Any] = field(default_factory=dict)
    """The run's LangGraph config (`configurable`, `recursion_limit`, ...)."""
    record: dict[str, Any] = field(default_factory=dict)
    """The API's run record, so the turn can write it if the API never got to (a crash)."""
    limits: TurnLimits = field(default_factory=TurnLimits)
    interrupt_before: list[str] = field(default_factory=list)
    interrupt_after: list[str] = field(default_factory=list)
    stream_modes: list[str] = field(default_factory=list)
    """Graph stream modes a client asked for beyond the defaults (tasks, checkpoints, debug)."""
    thread_workflow_id: str = ""
    """The thread workflow that started this turn and follows it by signal (`turn_paused`,
    `turn_ended`); empty for a turn started on its own."""
    thread_context: ThreadContext | None = None
    """The thread's window, read by the thread as it started the turn (its run marked
    running): the turn then reads no store before its first model call. None: the turn
    reads it itself."""


END_TURN = {"goto": "__end__"}
"""The resume value of `command: {"goto": "__end__"}` (agent-chat-ui's "Mark as Resolved"):
the paused turn ends without running the calls it waited on."""


@dataclass(frozen=True, kw_only=True)
class Resume:
    """A new run that answers a paused turn (`command: {"resume": ...}`, or END_TURN)."""

    run_id: str
    value: Any = None
    actor: str = ""
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Paused:
    """A turn tells its thread it waits for a person (the thread is `interrupted`)."""

    run_id: str
    interrupts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class TurnOutcome:
    """The workflow result: exactly one terminal state per turn."""

    status: RunStatus
    turn_status: TurnStatus
    stop: StopRequest | None = None
    outcome: str = ""
    """'completed', 'paused' (waiting for approval), 'interrupted', 'rolled_back',
    'rollback_failed', 'approval_expired', 'resolved' (the user ended it while it waited for
    approval) or 'error'."""
    kept: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    not_undone: list[str] = field(default_factory=list)
    error: str | None = None
    messages: list[Message] = field(default_factory=list)
    """The messages this turn committed to the thread (empty after a rollback)."""
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    """What the turn waits for, when it paused."""


@dataclass(frozen=True, kw_only=True)
class BeginTurnInput:
    thread_id: str
    run_id: str
    input_ids: list[str]
    context: ContextPolicy
    checkpoint_id: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ThreadContext:
    """What a turn starts from: the recent window of the thread, by reference and by value."""

    checkpoint_id: str | None
    total: int
    """Messages in the thread at that checkpoint; the window is the last len(window)."""
    window: list[Message] = field(default_factory=list)
    taken_ids: list[str] = field(default_factory=list)
    """Input message ids already used in the thread: they get fresh ids, never overwrite."""

    @property
    def window_ref(self) -> HistoryRef:
        return HistoryRef(
            thread_id="",
            checkpoint_id=self.checkpoint_id,
            start=self.total - len(self.window),
            count=len(self.window),
        )


@dataclass(frozen=True, kw_only=True)
class ModelCallInput:
    thread_id: str
    run_id: str
    message_id: str
    """Id of the AI message this call produces; stable across retries."""
    messages: list[Message]
    """What the model sees after `base` (or everything, when base is None)."""
    base: HistoryRef | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    model_name: str = "gpt-4o-mini"
    node: str = "model"
    stream_metadata: dict[str, Any] = field(default_factory=dict)
    """The `messages-tuple` metadata of this call's tokens (run, node, step, model)."""
    outbox: list[OutboxEvent] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ModelCallResult:
    message: Message
    stopped: bool = False
    """True when the call was stopped: `message` holds the partial answer."""
    tokens: int = 0


@dataclass(frozen=True, kw_only=True)
class ToolCallInput:
    thread_id: str
    run_id: str
    tool_call_id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    message_id: str = ""
    """Id of the ToolMessage the result becomes."""
    stream_metadata: dict[str, Any] = field(default_factory=dict)
    outbox: list[OutboxEvent] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ToolCallResult:
    content: str
    status: Literal["success", "error", "stopped"] = "success"
    partial_output: str = ""


@dataclass(frozen=True, kw_only=True)
class CompensationInput:
    tool_name: str
    args: dict[str, Any]
    idempotency_key: str
    tool_call_id: str
    run_id: str = ""
    outbox: list[OutboxEvent] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class PartialAnswerInput:
    """Recover what the client saw of a model call whose worker died before it returned."""

    run_id: str
    message_id: str


@dataclass(frozen=True, kw_only=True)
class RecordedStopInput:
    """Read the stop the API recorded for a run: a turn whose call a stop notice ended adopts
    it when Temporal's cancel never comes (the API died between the notice and the cancel)."""

    thread_id: str
    run_id: str


@dataclass(frozen=True, kw_only=True)
class FinishInput:
    """The end of a run: commit (unless rolled back), publish the last events and `end`,
    and record the outcome. Every part is idempotent, so a retry repeats nothing."""

    thread_id: str
    run_id: str
    outcome: TurnOutcome
    commit: list[Message] | None = None
    checkpoint_id: str | None = None
    """Commit on top of this checkpoint (a fork), not the latest."""
    outbox: list[OutboxEvent] = field(default_factory=list)
    end: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    """The run's record, to write its end (and the row itself, if it is missing)."""
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    """The thread's pending interrupts after this (empty: none)."""
    reopen: bool = False
    """The run ended once already (it paused): its record may be rewritten with this end."""
    thread_workflow_id: str = ""
    """The thread that follows the turn: told `turn_ended` once the end is recorded (not
    for a pause). Empty: nobody to tell."""
    turn_run_id: str = ""
    """The run the turn was started for (a resumed turn serves a later run)."""
