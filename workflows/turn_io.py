"""The turn's first and last activities: load the thread's window, and finish the run.

A turn its thread started arrives with the window (the thread read it as it started the
turn, workflows.thread_io.open_turn), and goes straight to its first model call. A turn
started otherwise (on its own, or by a thread before that) loads it with a local
activity: it runs in the worker that runs the workflow, without a round trip through the
task queue, so the turn still reaches its first model call in one workflow task. It may
run twice (a local activity inside a workflow task that the server then rejects is run
again), which is harmless: it only reads, and marks.
Finishing is a regular activity for the opposite reason: it commits and announces the end,
so it must run only once the decision to finish is in the history. (Measured: as a local
activity, a stop racing the end committed a kept answer for a turn recorded as completed.)
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.turn_activities import TurnActivities, begin_input
    from core.contracts import (
        FinishInput,
        Paused,
        ThreadContext,
        TurnInput,
        TurnOutcome,
    )
    from workflows.local_steps import LOCAL_RETRY, LOCAL_TIMEOUT

if TYPE_CHECKING:
    from workflows.turn_session import TurnSession


async def begin_turn(inp: TurnInput) -> ThreadContext:
    if inp.thread_context is not None:
        return inp.thread_context
    return await workflow.execute_local_activity_method(
        TurnActivities.begin_turn,
        begin_input(inp),
        start_to_close_timeout=LOCAL_TIMEOUT,
        retry_policy=LOCAL_RETRY,
        summary="load the thread",
    )


def end_event(outcome: TurnOutcome) -> dict[str, Any]:
    """The stream's last event: how the run ended, without the committed messages."""
    return {key: value for key, value in asdict(outcome).items() if key != "messages"}


async def finish_turn(
    inp: TurnInput,
    session: TurnSession,
    outcome: TurnOutcome,
    commit: list[dict[str, Any]] | None,
    *,
    record: dict[str, Any],
    interrupts: list[dict[str, Any]] | None = None,
    reopen: bool = False,
) -> str | None:
    """End the run the turn serves now (or pause it, with `interrupts`)."""
    context = session.context
    outbox = session.outbox.pending()
    checkpoint_id: str | None = await workflow.execute_activity_method(
        TurnActivities.finish_turn,
        FinishInput(
            thread_id=inp.thread_id,
            run_id=session.run_id,
            outcome=outcome,
            commit=commit,
            checkpoint_id=inp.checkpoint_id and (context.checkpoint_id if context else None),
            outbox=outbox,
            end=end_event(outcome),
            record=record,
            interrupts=interrupts or [],
            reopen=reopen,
            thread_workflow_id=inp.thread_workflow_id,
            turn_run_id=inp.run_id,
        ),
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=RetryPolicy(maximum_attempts=20, maximum_interval=timedelta(seconds=10)),
        summary=f"finish: {outcome.outcome}",
    )
    session.outbox.delivered(outbox)
    return checkpoint_id


async def start_run(record: dict[str, Any]) -> None:
    """A resumed turn serves a new run: mark it running."""
    await workflow.execute_local_activity_method(
        TurnActivities.start_run,
        record,
        start_to_close_timeout=LOCAL_TIMEOUT,
        retry_policy=LOCAL_RETRY,
        summary=f"resume as run {record.get('run_id', '?')}",
    )


async def tell_thread_paused(inp: TurnInput, run_id: str, interrupts: list[dict[str, Any]]) -> None:
    """The thread workflow marks the thread `interrupted` (a turn started alone has none;
    one started by a thread before top-level turns has it as its parent)."""
    parent = workflow.info().parent
    thread = inp.thread_workflow_id or (parent.workflow_id if parent else "")
    if not thread:
        return
    handle = workflow.get_external_workflow_handle(thread)
    await handle.signal("turn_paused", Paused(run_id=run_id, interrupts=interrupts))
