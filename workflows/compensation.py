"""After a stop or a failure: keep the partial state, or undo the turn's side effects in
reverse order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from langchain_core.messages import BaseMessage, ToolMessage
from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.contracts import CompensationInput
    from core.messages import text_of
    from workflows.calls import compensate_activity
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
    """The turn as it stands: completed results, every dangling tool call answered, the
    partial answer if any text was produced, and the last kept message marked with `marker`
    in its metadata. Nothing empty is kept: an empty AI message would go to the model in
    every later turn."""
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
    partial = session.partial_answer
    if partial is not None and text_of(partial).strip():
        messages.append(partial)
        kept.append(f"partial answer ({len(text_of(partial))} characters)")
    if messages:
        last = messages[-1]
        last.response_metadata = {**last.response_metadata, **marker}
    return messages, kept


@dataclass
class RollbackReport:
    undone: list[str] = field(default_factory=list)
    not_undone: list[str] = field(default_factory=list)
    """Compensations that failed for good."""
    irreversible: list[str] = field(default_factory=list)
    """Calls that ran and that nothing can undo (an email that was sent)."""


def _needs_compensation(record: ToolCallRecord, has_compensator: set[str]) -> bool:
    # Every call that may have had its effect: done, failed, stopped, or still "running"
    # because its worker died or it ignored the stop. Compensators are idempotent by key,
    # so undoing an effect that never happened is harmless.
    return record.name in has_compensator and record.state != "not_run"


async def roll_back(
    session: TurnSession, has_compensator: set[str], irreversible: set[str]
) -> RollbackReport:
    """Run compensators newest first, each a durable activity with retries. Called after the
    stop was consumed, so the stop cannot cancel them."""
    report = RollbackReport()
    for call_id in reversed(session.started_tools):
        record = session.tool_calls[call_id]
        label = f"{record.name} ({record.call_id})"
        if record.name in irreversible and record.state != "not_run":
            report.irreversible.append(f"{label}: could not be undone (irreversible)")
        if not _needs_compensation(record, has_compensator):
            continue
        outbox = session.outbox.pending()
        try:
            done = await compensate_activity(
                CompensationInput(
                    tool_name=record.name,
                    args=record.args,
                    idempotency_key=record.idempotency_key,
                    tool_call_id=record.call_id,
                    run_id=session.inp.run_id,
                    outbox=outbox,
                )
            )
            session.outbox.delivered(outbox)
            report.undone.append(f"{label}: {done}")
        except ActivityError as err:
            cause = str(getattr(err.cause, "message", None) or err)
            report.not_undone.append(f"{label}: {cause}")
    return report
