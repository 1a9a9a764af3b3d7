"""After a stop: keep the partial state, or undo the turn's side effects in reverse order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from core.contracts import CompensationInput
from core.messages import text_of
from workflows.turn_session import ToolCallRecord, TurnSession

NOT_RUN = "not run: stopped by the user"
STOPPED_WHILE_RUNNING = "stopped while running"


def _dangling_answer(record: ToolCallRecord, why: str) -> str:
    if record.state == "not_run":
        return NOT_RUN if why == "stopped" else f"not run: {why}"
    partial = record.result.partial_output if record.result else ""
    return (
        f"{STOPPED_WHILE_RUNNING}; partial output:\n{partial}" if partial else STOPPED_WHILE_RUNNING
    )


def kept_messages(
    session: TurnSession, marker: Mapping[str, object], why: str = "stopped"
) -> tuple[list[BaseMessage], list[str]]:
    """The turn as it stands: completed results, every dangling tool call answered, and the
    final AI message (the partial answer, if any) marked with `marker` in its metadata."""
    messages = list(session.produced)
    kept = [
        f"tool result {m.name} ({m.tool_call_id})" for m in messages if isinstance(m, ToolMessage)
    ]
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    for record in session.tool_calls.values():
        if record.call_id in answered:
            continue
        messages.append(
            ToolMessage(
                content=_dangling_answer(record, why),
                tool_call_id=record.call_id,
                name=record.name,
                id=f"tool-{session.inp.run_id}-{record.call_id}",
                status="error",
                response_metadata={"stopped": True},
            )
        )
        kept.append(f"tool call {record.name} ({record.call_id}): {record.state.replace('_', ' ')}")
    final = _final_answer(session, messages)
    final.response_metadata = {**final.response_metadata, **marker}
    if session.partial_answer is not None:
        kept.append(f"partial answer ({len(text_of(final))} characters)")
    return messages, kept


def _final_answer(session: TurnSession, messages: list[BaseMessage]) -> AIMessage:
    if session.partial_answer is not None:
        messages.append(session.partial_answer)
        return session.partial_answer
    last = messages[-1] if messages else None
    if isinstance(last, AIMessage) and not last.tool_calls:
        return last
    empty = AIMessage(content="", id=f"ai-{session.inp.run_id}-final")
    messages.append(empty)
    return empty


@dataclass
class RollbackReport:
    undone: list[str] = field(default_factory=list)
    not_undone: list[str] = field(default_factory=list)


def _needs_compensation(record: ToolCallRecord, has_compensator: set[str]) -> bool:
    # A stopped or failed call may have had its effect; the idempotency key makes undoing
    # an effect that never happened harmless.
    return record.name in has_compensator and record.state in ("done", "stopped", "error")


async def roll_back(session: TurnSession, has_compensator: set[str]) -> RollbackReport:
    """Run compensators newest first, each a durable activity with retries. Called after the
    stop was consumed, so the stop cannot cancel them."""
    report = RollbackReport()
    for call_id in reversed(session.started_tools):
        record = session.tool_calls[call_id]
        if not _needs_compensation(record, has_compensator):
            continue
        label = f"{record.name} ({record.call_id})"
        try:
            done = await workflow.execute_activity(
                "compensate_tool",
                CompensationInput(
                    tool_name=record.name,
                    args=record.args,
                    idempotency_key=record.idempotency_key,
                    tool_call_id=record.call_id,
                ),
                result_type=str,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=200),
                    maximum_interval=timedelta(seconds=5),
                    maximum_attempts=5,
                ),
                summary=f"compensate {record.name}",
            )
            report.undone.append(f"{label}: {done}")
        except ActivityError as err:
            cause = str(getattr(err.cause, "message", None) or err)
            report.not_undone.append(f"{label}: {cause}")
    return report
