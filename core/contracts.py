"""The data that crosses process boundaries: API -> workflow -> activities -> stream.

Every workflow, activity and stream payload is one frozen dataclass. New fields get defaults
so histories recorded by older versions still decode. Messages travel as LangChain's
serialized form (core.messages) because that is also what the Agent Server protocol shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

TURN_WORKFLOW = "ChatTurn"
EVENTS_TOPIC = "events"

# Search attributes: the Web UI and `temporal workflow list --query` filter on these.
SA_THREAD_ID = "ThreadId"
SA_USER_ID = "UserId"
SA_TURN_STATUS = "TurnStatus"

StopAction = Literal["interrupt", "rollback"]
RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
TurnStatus = Literal["running", "completed", "stopped", "rolled_back", "error"]
Message = dict[str, Any]


def turn_workflow_id(thread_id: str, run_id: str) -> str:
    """A turn's workflow id carries its thread and run, so the Web UI shows where it belongs."""
    return f"turn:{thread_id}:{run_id}"


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
        try:
            data = json.loads(text or "")
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
class TurnInput:
    thread_id: str
    run_id: str
    assistant_id: str
    graph_id: str
    """Key of the graph registry entry (langgraph.json style) that runs this turn."""
    user_id: str
    input_messages: list[Message]
    model_name: str
    heartbeat_timeout_seconds: float = 10.0
    model_max_attempts: int = 3
    tool_max_attempts: int = 3


@dataclass(frozen=True, kw_only=True)
class TurnOutcome:
    """The workflow result: exactly one terminal state per turn."""

    status: RunStatus
    turn_status: TurnStatus
    stop: StopRequest | None = None
    outcome: str = ""
    """'completed', 'interrupted', 'rolled_back', 'rollback_failed' or 'error'."""
    kept: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    not_undone: list[str] = field(default_factory=list)
    error: str | None = None
    messages: list[Message] = field(default_factory=list)
    """The messages this turn committed to the thread (empty after a rollback)."""


@dataclass(frozen=True, kw_only=True)
class TurnEvent:
    """One item on the turn's Workflow Stream; the API maps it to SSE events.

    kinds: token (a model text chunk), reset (a retried model attempt restarts a message),
    updates / values (graph stream modes), tool (tool progress), error, end (terminal)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ModelCallInput:
    thread_id: str
    run_id: str
    message_id: str
    """Id of the AI message this call produces; stable across retries."""
    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)
    model_name: str = "gpt-4o-mini"
    node: str = "model"


@dataclass(frozen=True, kw_only=True)
class ModelCallResult:
    message: Message
    stopped: bool = False
    """True when the call was cancelled: `message` holds the partial answer."""
    tokens: int = 0


@dataclass(frozen=True, kw_only=True)
class ToolCallInput:
    thread_id: str
    run_id: str
    tool_call_id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""


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


@dataclass(frozen=True, kw_only=True)
class ThreadSnapshot:
    messages: list[Message] = field(default_factory=list)
    checkpoint_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CommitInput:
    thread_id: str
    run_id: str
    messages: list[Message]
