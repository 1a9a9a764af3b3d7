"""The thread: one long-lived entity workflow per conversation that decides which run goes
next, so any API replica can take any request and none keeps a lock, a queue or a drainer.

Runs arrive through update-with-start (`submit_run`), so a thread's workflow exists exactly
when it has work and a retried request (same run id) is recognised. Each run becomes one
turn, started as a child workflow (`turn:<thread>:<run>`, a reused id is refused, so a turn
can never run twice). One turn at a time; `enqueue`d runs wait in order; `reject` is refused
by the update's validator (nothing is written to history); `interrupt` and `rollback` stop
the active turn (the workflow cancel with its reason, as any Stop) and drop the queue.

A stop that the turn does not honour within the grace period (a wedged workflow task, a tool
that never returns) is escalated: the turn is terminated and its run ends in `error`, so a
broken turn can never hold its thread.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from core.contracts import THREAD_WORKFLOW, StopRequest, TurnOutcome, turn_workflow_id
    from core.thread_contracts import (
        REJECT_DETAIL,
        THREAD_BUSY,
        THREAD_CLOSED,
        RunAdmission,
        RunRequest,
        RunStop,
        ThreadState,
    )
    from workflows.thread_io import end_run, start_turn, terminate_turn

RECENT_RUNS = 200
TURNS_BEFORE_CONTINUE_AS_NEW = 500


@workflow.defn(name=THREAD_WORKFLOW)
class ThreadWorkflow:
    @workflow.init
    def __init__(self, state: ThreadState) -> None:
        self.state = state
        self.queue: list[RunRequest] = list(state.queue)
        self.recent: dict[str, str] = dict(state.recent_runs)
        self.active: RunRequest | None = None
        self.stop_deadline: float | None = None
        self.closing = False
        self.turns = 0

    @workflow.run
    async def run(self, state: ThreadState) -> None:
        while True:
            await workflow.wait_condition(
                lambda: bool(self.queue) or self.closing or self._time_to_continue()
            )
            if self.closing:
                return
            if not self.queue:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried_over())
            request = self.queue.pop(0)
            await self._run_turn(request)

    def _time_to_continue(self) -> bool:
        info = workflow.info()
        return self.turns >= TURNS_BEFORE_CONTINUE_AS_NEW or info.is_continue_as_new_suggested()

    def _carried_over(self) -> ThreadState:
        recent = dict(list(self.recent.items())[-RECENT_RUNS:])
        return ThreadState(
            thread_id=self.state.thread_id,
            owner=self.state.owner,
            recent_runs=recent,
            queue=self.queue,
            stop_grace_seconds=self.state.stop_grace_seconds,
        )

    # --- one turn -------------------------------------------------------------------------

    async def _run_turn(self, request: RunRequest) -> None:
        self.active, self.stop_deadline = request, None
        self.recent[request.run_id] = "running"
        workflow.set_current_details(f"running {request.run_id}")
        try:
            turn = await start_turn(request)
        except Exception as err:  # the turn could not even start: the run still ends
            await self._end(request, "error", _failure(f"the turn could not start: {err}"))
        else:
            await self._follow(request, turn)
        self.recent[request.run_id] = "ended"
        self.active = None
        self.turns += 1
        workflow.set_current_details("idle")

    async def _follow(self, request: RunRequest, turn: Any) -> None:
        """Wait for the turn; a stop it ignores past the grace period terminates it."""
        done = asyncio.ensure_future(turn)
        terminated = ""
        while not done.done():
            deadline = self.stop_deadline
            if deadline is None:
                await workflow.wait_condition(lambda: done.done() or self.stop_deadline is not None)
                continue
            remaining = max(deadline - workflow.time(), 0.001)
            try:
                await workflow.wait_condition(done.done, timeout=timedelta(seconds=remaining))
            except TimeoutError:
                terminated = await terminate_turn(
                    turn_workflow_id(self.state.thread_id, request.run_id),
                    self.state.stop_grace_seconds,
                )
                self.stop_deadline = float("inf")  # terminated: now just wait for the end
        try:
            done.result()
        except ChildWorkflowError as err:  # failed or terminated: its own finish never ran
            why = f"the turn was terminated: {terminated}" if terminated else _child_error(err)
            await self._end(request, "error", _failure(why))

    def _arm_escalation(self) -> None:
        if self.stop_deadline is None:
            self.stop_deadline = workflow.time() + self.state.stop_grace_seconds

    async def _end(self, request: RunRequest, status: str, outcome: TurnOutcome) -> None:
        await end_run(request, status, outcome)

    # --- requests ---------------------------------------------------------------------------

    @workflow.update
    async def submit_run(self, request: RunRequest) -> RunAdmission:
        if request.run_id in self.recent:
            return RunAdmission(run_id=request.run_id, status="pending", repeated=True)
        self.recent[request.run_id] = "pending"
        superseded: list[str] = []
        if request.multitask_strategy in ("interrupt", "rollback") and self._busy():
            stop = StopRequest(
                action="rollback" if request.multitask_strategy == "rollback" else "interrupt",
                actor=request.turn.user_id,
                reason=f"superseded by a new run (multitask_strategy={request.multitask_strategy})",
            )
            superseded = await self._supersede(stop)
        starts_now = not self._busy()
        self.queue.append(request)
        return RunAdmission(
            run_id=request.run_id,
            status="running" if starts_now else "pending",
            superseded=superseded,
        )

    @submit_run.validator
    def _admit(self, request: RunRequest) -> None:
        if request.run_id in self.recent:
            return  # a retry of an admitted run: answered, never refused
        if self.closing:
            raise ApplicationError("the thread is being deleted", type=THREAD_CLOSED)
        if request.multitask_strategy == "reject" and self._busy():
            raise ApplicationError(REJECT_DETAIL, type=THREAD_BUSY)

    def _busy(self) -> bool:
        return self.active is not None or bool(self.queue)

    async def _supersede(self, stop: StopRequest) -> list[str]:
        """Stop the active turn and drop every queued run, for a run that replaces them."""
        dropped, self.queue = self.queue, []
        stopped = [r.run_id for r in dropped]
        for request in dropped:
            self.recent[request.run_id] = "ended"
            await self._end(request, "interrupted", _stopped(stop))
        if self.active is not None:
            stopped.insert(0, self.active.run_id)
            await self._cancel_active(stop)
        return stopped

    async def _cancel_active(self, stop: StopRequest) -> None:
        assert self.active is not None
        turn_id = turn_workflow_id(self.state.thread_id, self.active.run_id)
        handle = workflow.get_external_workflow_handle(turn_id)
        self._arm_escalation()
        try:
            await handle.cancel(reason=stop.to_cancel_reason())
        except Exception as err:  # it ended meanwhile: nothing to stop
            workflow.logger.info("turn %s not cancelled: %s", turn_id, err)

    @workflow.update
    async def cancel_pending(self, request: RunStop) -> str:
        """Stop a run that has not started: "dropped"; "running" or "ended" otherwise (the
        API cancels a running turn itself, which is faster)."""
        for index, queued in enumerate(self.queue):
            if queued.run_id == request.run_id:
                del self.queue[index]
                self.recent[request.run_id] = "ended"
                await self._end(queued, "interrupted", _stopped(request.stop))
                return "dropped"
        if self.active is not None and self.active.run_id == request.run_id:
            return "running"
        return "ended" if request.run_id in self.recent else "unknown"

    @workflow.signal
    def stop_requested(self, request: RunStop) -> None:
        """The API stopped the active turn directly: start the escalation clock."""
        if self.active is not None and self.active.run_id == request.run_id:
            self._arm_escalation()

    @workflow.update
    async def close(self, stop: StopRequest) -> None:
        """The thread is deleted: drop the queue, stop the active turn, end once it has."""
        self.closing = True
        await self._supersede(stop)
        await workflow.wait_condition(lambda: self.active is None)

    @workflow.query
    def status(self) -> dict[str, Any]:
        active = self.active.run_id if self.active else None
        return {"active": active, "queued": [r.run_id for r in self.queue]}


def _failure(error: str) -> TurnOutcome:
    return TurnOutcome(status="error", turn_status="error", outcome="error", error=error)


def _stopped(stop: StopRequest) -> TurnOutcome:
    return TurnOutcome(
        status="interrupted", turn_status="stopped", outcome="interrupted", stop=stop
    )


def _child_error(err: ChildWorkflowError) -> str:
    cause = err.cause
    text = str(getattr(cause, "message", None) or cause or err)
    if type(cause).__name__ == "TerminatedError":
        return f"the turn was terminated: {text}"
    return f"the turn failed: {text}"
