"""How a turn that did not simply complete ends: kept after a stop, rolled back, failed, or
with its approval expired. Each returns what to commit and the outcome to report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from langchain_core.messages import ToolMessage

    from agents.registry import AgentDefinition
    from core.contracts import StopRequest, TurnLimits, TurnOutcome
    from core.messages import to_dicts
    from workflows.approvals import rejection
    from workflows.compensation import kept_messages, roll_back
    from workflows.turn_outcomes import Settled, describe_error
    from workflows.turn_session import TurnSession

WithInput = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def kept(session: TurnSession, stop: StopRequest, with_input: WithInput) -> Settled:
    marker = {
        "stopped": True,
        "finish_reason": "stopped",
        "stop_reason": stop.reason,
        "stopped_by": stop.actor,
    }
    messages, kept_list = kept_messages(session, marker)
    outcome = TurnOutcome(
        status="interrupted",
        turn_status="stopped",
        outcome="interrupted",
        stop=stop,
        kept=kept_list,
    )
    return Settled(outcome=outcome, commit=with_input(to_dicts(messages)))


async def rolled_back(session: TurnSession, agent: AgentDefinition, stop: StopRequest) -> Settled:
    compensable = {t.name for t in agent.tools if t.compensator is not None}
    irreversible = {t.name for t in agent.tools if t.irreversible}
    workflow.set_current_details(f"rolling back, as {stop.actor} asked")
    report = await roll_back(session, compensable, irreversible)
    # Nothing is committed: the thread stays exactly at its pre-turn checkpoint.
    if report.not_undone:
        outcome = TurnOutcome(
            status="error",
            turn_status="error",
            outcome="rollback_failed",
            stop=stop,
            undone=report.undone,
            not_undone=report.not_undone + report.irreversible,
            error="could not undo: " + "; ".join(report.not_undone),
        )
    else:
        outcome = TurnOutcome(
            status="interrupted",
            turn_status="rolled_back",
            outcome="rolled_back",
            stop=stop,
            undone=report.undone,
            not_undone=report.irreversible,
        )
    return Settled(outcome=outcome, commit=None)


def failed(session: TurnSession, error: BaseException, with_input: WithInput) -> Settled:
    cause = describe_error(error)
    session.outbox.add("error", {"error": type(error).__name__, "message": cause})
    marker = {"finish_reason": "error", "error": cause}
    messages, kept_list = kept_messages(session, marker, why="the turn failed")
    outcome = TurnOutcome(
        status="error", turn_status="error", outcome="error", error=cause, kept=kept_list
    )
    return Settled(outcome=outcome, commit=with_input(to_dicts(messages)))


def expired(session: TurnSession, limits: TurnLimits, with_input: WithInput) -> Settled:
    """Nobody answered in time: every call waiting for approval is rejected, with the
    reason, and the turn ends cleanly (no model call that nobody watches)."""
    hours = (limits.approval_timeout_seconds or 0) / 3600
    reason = f"approval timed out after {hours:g} h"
    return _unanswered(session, with_input, reason, outcome="approval_expired")


def resolved(session: TurnSession, actor: str, with_input: WithInput) -> Settled:
    """The user ended the wait (`command.goto: "__end__"`, "Mark as Resolved"): the calls
    waiting for approval are not run, each answered with why, and no model call follows."""
    return _unanswered(session, with_input, f"marked as resolved by {actor}", outcome="resolved")


def _unanswered(
    session: TurnSession, with_input: WithInput, reason: str, *, outcome: str
) -> Settled:
    for record in session.tool_calls.values():
        if record.state == "not_run":
            call = {"name": record.name, "args": record.args, "id": record.call_id}
            session.produced.append(
                ToolMessage(
                    content=rejection(call, reason),  # type: ignore[arg-type]
                    tool_call_id=record.call_id,
                    name=record.name,
                    id=f"tool-{session.inp.run_id}-{record.call_id}",
                    status="error",
                )
            )
            record.state = "done"
    messages, kept_list = kept_messages(session, {"finish_reason": outcome})
    ended = TurnOutcome(
        status="success", turn_status="completed", outcome=outcome, error=reason, kept=kept_list
    )
    return Settled(outcome=ended, commit=with_input(to_dicts(messages)))
