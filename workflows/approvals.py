"""Human approval before sensitive tools, in the wire shapes of LangChain's
HumanInTheLoopMiddleware, so chat UIs that render its approval cards work unchanged.

The pause is a LangGraph `interrupt()` raised by `call_tools` before any gated call runs:
its value is a HITLRequest (`action_requests` + `review_configs`); the answer is
`{"decisions": [...]}`, one per gated call, in order: approve, edit (`edited_action`),
reject (with an optional `message`) or respond. A rejected call becomes a tool message that
says so, the same text LangChain uses, and the model carries on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from langchain_core.messages import ToolCall, ToolMessage

ALLOWED_DECISIONS = ["approve", "edit", "reject", "respond"]
EDIT_NOTICE = "Note: a reviewer edited this call's arguments before it ran. "


@dataclass(frozen=True)
class Verdict:
    """What to do with one tool call after review."""

    call: ToolCall
    run: bool
    args: dict[str, Any]
    answer: ToolMessage | None = None
    """The call's result when it does not run (rejected, or answered by the reviewer)."""
    edited: bool = False


def gated(calls: list[ToolCall], policy: Mapping[str, bool]) -> list[ToolCall]:
    return [call for call in calls if policy.get(call["name"], False)]


def hitl_request(calls: list[ToolCall], descriptions: Mapping[str, str]) -> dict[str, Any]:
    """The interrupt value: HumanInTheLoopMiddleware's HITLRequest."""
    return {
        "action_requests": [
            {
                "name": call["name"],
                "args": call["args"],
                "description": descriptions.get(call["name"], f"Run {call['name']}?"),
            }
            for call in calls
        ],
        "review_configs": [
            {"action_name": name, "allowed_decisions": list(ALLOWED_DECISIONS)}
            for name in dict.fromkeys(call["name"] for call in calls)
        ],
    }


def verdicts(calls: list[ToolCall], answer: Any) -> list[Verdict]:
    """Apply the reviewer's decisions to the gated calls, in order."""
    decisions = answer.get("decisions") if isinstance(answer, dict) else None
    if not isinstance(decisions, list) or len(decisions) != len(calls):
        count = len(decisions) if isinstance(decisions, list) else "no"
        raise ValueError(f"expected {len(calls)} decisions, one per pending call; got {count}")
    return [_verdict(call, decision) for call, decision in zip(calls, decisions, strict=True)]


def _verdict(call: ToolCall, decision: Any) -> Verdict:
    kind = decision.get("type") if isinstance(decision, dict) else None
    if kind == "approve":
        return Verdict(call=call, run=True, args=call["args"])
    if kind == "edit":
        edited = decision.get("edited_action") or {}
        return Verdict(call=call, run=True, args=dict(edited.get("args") or {}), edited=True)
    if kind == "respond":
        answer = _answer(call, str(decision.get("message", "")), "success")
        return Verdict(call=call, run=False, args=call["args"], answer=answer)
    if kind == "reject":
        answer = _answer(call, rejection(call, decision.get("message")), "error")
        return Verdict(call=call, run=False, args=call["args"], answer=answer)
    raise ValueError(f"unknown decision {kind!r} for {call['name']}; one of {ALLOWED_DECISIONS}")


def rejection(call: ToolCall, reason: Any = None) -> str:
    """LangChain's own wording, so a model sees what it would see under the middleware."""
    if reason:
        return f"User rejected the tool call for `{call['name']}` with reason: {reason}"
    return (
        f"User rejected the tool call for `{call['name']}` with id {call['id']}. The tool was "
        "not executed. Do not retry this tool call unless the user explicitly requests it."
    )


def _answer(call: ToolCall, content: str, status: str) -> ToolMessage:
    return ToolMessage(
        content=content,
        name=call["name"],
        tool_call_id=call["id"] or "",
        status=status,
    )
