"""The thread workflow's activities: open a turn, say whether it is still open, end a run
that has no turn to end it, terminate a turn that ignored its stop, delete a stateless
run's own thread once the run is over."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.live import RunLive
from activities.turn_activities import begin_input, load_turn_context
from broker import Broker
from core.contracts import TURN_WORKFLOW, turn_workflow_id
from core.thread_contracts import ForgetThread, RunEnd, RunRequest, TerminateTurn
from core.turn_options import TURN_PRIORITY, turn_memo, turn_search_attributes
from stores.forget import forget_thread
from stores.record_store import RecordStore
from stores.records import RunRecord
from stores.thread_store import ThreadStore


class ThreadActivities:
    def __init__(
        self, records: RecordStore, threads: ThreadStore, broker: Broker, client: Client
    ) -> None:
        self._records = records
        self._threads = threads
        self._broker = broker
        self._client = client
        """The worker's own client: a turn started with it can start eagerly, in this
        worker (the server hands the first workflow task back with the start's answer)."""

    @activity.defn(name="open_turn")
    async def open_turn(self, request: RunRequest) -> None:
        """Runs as a local activity inside the thread's workflow task that admitted the
        run, so no other turn of the thread can commit between the read and the start."""
        turn = request.turn
        workflow_id = turn_workflow_id(turn.thread_id, turn.run_id)
        context = await load_turn_context(
            self._records, self._threads, begin_input(turn), workflow_id
        )
        followed = replace(
            turn, thread_workflow_id=activity.info().workflow_id or "", thread_context=context
        )
        # A repeated activity (its workflow task was retried) finds the turn running.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._client.start_workflow(
                TURN_WORKFLOW,
                followed,
                id=workflow_id,
                task_queue=activity.info().task_queue,
                # A turn id is used once: a repeated start can never run the turn twice.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=turn_search_attributes(request),
                memo=turn_memo(request),
                static_summary=request.summary or None,
                priority=TURN_PRIORITY,
                request_eager_start=True,
            )

    @activity.defn(name="turn_closed")
    async def turn_closed(self, workflow_id: str) -> str:
        description = await self._client.get_workflow_handle(workflow_id).describe()
        status = description.status
        if status is None or status == WorkflowExecutionStatus.RUNNING:
            return ""
        return status.name

    @activity.defn(name="end_run")
    async def end_run(self, end: RunEnd) -> None:
        """Record the end, then tell the run's stream (its clients are waiting for `end`)."""
        if end.record:
            await self._records.finish_run(RunRecord.from_dict(end.record), end.status, end.outcome)
        live = RunLive(self._broker, end.run_id)
        await live.end(end.outcome)

    @activity.defn(name="terminate_turn")
    async def terminate_turn(self, inp: TerminateTurn) -> None:
        handle = self._client.get_workflow_handle(inp.workflow_id)
        try:
            await handle.terminate(reason=inp.reason)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # already closed: nothing to do
                raise

    @activity.defn(name="forget_thread")
    async def forget_thread(self, inp: ForgetThread) -> None:
        await forget_thread(self._records, self._threads, self._broker, inp.thread_id, inp.owner)
