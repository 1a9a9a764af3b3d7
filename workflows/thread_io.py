"""What the thread workflow asks of the world: open a turn, ask whether it is still open,
end a run, terminate a turn."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.thread_activities import ThreadActivities
    from core.contracts import TurnOutcome, turn_workflow_id
    from core.thread_contracts import ForgetThread, RunEnd, RunRequest, TerminateTurn
    from core.turn_options import TURN_PRIORITY, turn_memo, turn_search_attributes
    from workflows.local_steps import LOCAL_RETRY, LOCAL_TIMEOUT
    from workflows.turn import TurnWorkflow

_QUICK = RetryPolicy(maximum_attempts=20, maximum_interval=timedelta(seconds=10))


async def open_turn(request: RunRequest) -> None:
    """Mark the run running, read the thread's window and start the turn with it, as a
    top-level workflow that the server hands straight back to this worker (eager start):
    one local activity inside the thread's workflow task, so a new run reaches its model
    call without a child-workflow start or a store read of its own on the way."""
    await workflow.execute_local_activity_method(
        ThreadActivities.open_turn,
        request,
        start_to_close_timeout=LOCAL_TIMEOUT,
        retry_policy=LOCAL_RETRY,
        summary=f"start turn {request.run_id}",
    )


async def turn_closed(workflow_id: str) -> str:
    """ "" while the turn is open, else how it closed (e.g. "TERMINATED")."""
    status: str = await workflow.execute_activity_method(
        ThreadActivities.turn_closed,
        workflow_id,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=_QUICK,
        summary=f"is {workflow_id} still open?",
    )
    return status


async def start_child_turn(request: RunRequest) -> Any:
    """How threads started turns before `open_turn` (kept for histories written then)."""
    turn = request.turn
    return await workflow.start_child_workflow(
        TurnWorkflow.run,
        turn,
        id=turn_workflow_id(turn.thread_id, turn.run_id),
        # A turn id is used once: a repeated start can never run the turn twice.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        # Deleting or resetting the thread workflow must not cut a turn mid-commit.
        parent_close_policy=ParentClosePolicy.ABANDON,
        search_attributes=turn_search_attributes(request),
        memo=turn_memo(request),
        static_summary=request.summary or None,
        priority=TURN_PRIORITY,
    )


async def end_run(request: RunRequest, status: str, outcome: TurnOutcome) -> None:
    end = {key: value for key, value in asdict(outcome).items() if key != "messages"}
    await workflow.execute_activity_method(
        ThreadActivities.end_run,
        RunEnd(
            thread_id=request.turn.thread_id,
            run_id=request.run_id,
            record=request.turn.record,
            status=status,
            outcome=end,
        ),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=_QUICK,
        summary=f"end run {request.run_id}: {outcome.outcome}",
    )


async def forget_thread(thread_id: str, owner: str) -> None:
    await workflow.execute_activity_method(
        ThreadActivities.forget_thread,
        ForgetThread(thread_id=thread_id, owner=owner),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=_QUICK,
        summary="delete the stateless run's thread",
    )


async def terminate_turn(workflow_id: str, grace_seconds: float) -> str:
    """Terminate the turn; returns the reason it was given."""
    reason = f"a stop was not honoured within {grace_seconds:g} s"
    await workflow.execute_activity_method(
        ThreadActivities.terminate_turn,
        TerminateTurn(workflow_id=workflow_id, reason=reason),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=_QUICK,
        summary=f"terminate {workflow_id}",
    )
    return reason
