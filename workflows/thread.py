"""The thread: one long-lived entity workflow per conversation that decides which run goes
next, so any API replica can take any request and none keeps a lock, a queue or a drainer.

Runs arrive through update-with-start (`submit_run`), so a thread's workflow exists exactly
when it has work and a retried request (same run id) is recognised. Each run becomes one
turn (`turn:<thread>:<run>`, a reused id is refused, so a turn can never run twice). One
turn at a time; `enqueue`d runs wait in order; `reject` is refused by the update's
validator (nothing is written to history); `interrupt` and `rollback` stop the active turn
(the workflow cancel with its reason, as any Stop) and drop the queue.

A turn is a top-level workflow, started eagerly by a local activity of the thread's own
workflow task, with the thread's window read on the way (workflows.thread_io.open_turn);
the turn tells the thread when its run has ended (`turn_ended`, from its finish). Measured
against starting it as a child workflow (whose first task waits for the parent to record
the start) and loading the window in the turn: time to first token with 20 runs at once
p50 556-633 ms against 689-756 ms, and a quarter less Temporal CPU per turn (README: "How
a turn starts").
Threads written before keep their child turns (`workflow.patched`).

A turn that closes without telling (terminated by hand, failed) is found by asking
Temporal now and then; a stop that the turn does not honour within the grace period (a
wedged workflow task, a tool that never returns) is escalated: the turn is terminated and
its run ends in `error`. So a broken turn can never hold its thread.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
)

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        THREAD_WORKFLOW,
        Paused,
        Resume,
        StopRequest,
        TurnOutcome,
        turn_workflow_id,
    )
    from core.thread_contracts import (
        NOTHING_TO_RESUME,
        REJECT_DETAIL,
        THREAD_BUSY,
        THREAD_CLOSED,
        RunAdmission,
        RunRequest,
        RunStop,
        ThreadState,
        TurnEnded,
    )
    from workflows.thread_io import (
        end_run,
        forget_thread,
        open_turn,
        start_child_turn,
        terminate_turn,
        turn_closed,
    )

RECENT_RUNS = 200
TURNS_BEFORE_CONTINUE_AS_NEW = 500
TOP_LEVEL_TURNS = "top-level-turns"
"""The patch that started turns as top-level workflows (threads from before follow their
child turns to the end of those histories)."""
LAST_CHECK_SECONDS = 3600.0
"""A turn still open at a check (ThreadState.turn_check_seconds) is asked about again at
twice the interval, up to this: a turn paused for a day's approval costs a few dozen
checks, a 1-minute answer none."""
ENDED_NORMALLY = ("COMPLETED", "CANCELED")
"""Closed so, a turn has recorded its run's end itself (a stopped turn ends Canceled)."""


# No sandbox: this is chatstop's own coordination code, never an agent's, and it reads no
# clock, randomness or I/O but Temporal's. The sandbox rebuilds a workflow's modules for each
# new instance (measured: with it off for both workflows, a turn on a new thread cost about
# 10 ms less worker CPU); the turn, which runs the agent's graph, keeps it.
@workflow.defn(name=THREAD_WORKFLOW, sandboxed=False)
class ThreadWorkflow:
    @workflow.init
    def __init__(self, state: ThreadState) -> None:
        self.state = state
        self.queue: list[RunRequest] = list(state.queue)
        self.recent: dict[str, str] = dict(state.recent_runs)
        self.active: RunRequest | None = None
        self.active_run_id: str | None = None
        """The run the active turn works for now (a resume moves a paused turn to its run)."""
        self.paused: Paused | None = None
        self.stop_deadline: float | None = None
        self.closing = False
        self.turns = 0
        self.active_ended = False
        """The active turn said its run ended (`turn_ended`); it may still be closing."""

    @workflow.run
    async def run(self, state: ThreadState) -> None:
        while True:
            await workflow.wait_condition(
                lambda: bool(self.queue) or self.closing or self._time_to_continue()
            )
            if self.closing:
                # Let the close update (and any other handler) answer before the end.
                await workflow.wait_condition(workflow.all_handlers_finished)
                return
            if not self.queue:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried_over())
            request = self.queue.pop(0)
            await self._run_turn(request)
            if await self._temporary_and_done(request):
                self.closing = True  # from now on new runs are refused, as for a deletion
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self.queue:  # a run admitted in that same moment keeps the thread
                    await self._forget()
                    return
                self.closing = False

    async def _temporary_and_done(self, request: RunRequest) -> bool:
        """The run's thread was made for it alone (a stateless run, `on_completion:
        "delete"`): once the run is over and nothing else came for a while, it goes. The
        while lets a client that did not wait still read the outcome."""
        keep = request.forget_thread_after_seconds
        if keep is None:
            return False
        try:
            await workflow.wait_condition(
                lambda: bool(self.queue) or self.closing, timeout=timedelta(seconds=keep)
            )
        except TimeoutError:
            return not self.queue and not self.closing
        return False

    async def _forget(self) -> None:
        try:
            await forget_thread(self.state.thread_id, self.state.owner)
        except ActivityError as err:  # left behind, like a kept thread; never a failure
            workflow.logger.warning("temporary thread not deleted: %s", err.cause)

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
            turn_check_seconds=self.state.turn_check_seconds,
        )

    # --- one turn -------------------------------------------------------------------------

    async def _run_turn(self, request: RunRequest) -> None:
        self.active, self.active_run_id, self.stop_deadline = request, request.run_id, None
        self.active_ended = False
        self.recent[request.run_id] = "running"
        workflow.set_current_details(f"running {request.run_id}")
        try:
            if workflow.patched(TOP_LEVEL_TURNS):
                await open_turn(request)
                follow = self._follow_top_level(request)
            else:
                follow = self._follow(request, await start_child_turn(request))
        except Exception as err:  # the turn could not even start: the run still ends
            await self._end(request, "error", _failure(f"the turn could not start: {err}"))
        else:
            await follow
        self.recent[request.run_id] = "ended"
        self.active = self.active_run_id = self.paused = None
        self.turns += 1
        workflow.set_current_details("idle")

    async def _follow_top_level(self, request: RunRequest) -> None:
        """Wait for the turn to say its run ended. A stop it ignores past the grace period
        terminates it; and now and then Temporal is asked whether it is still open, for a
        turn that closed without saying so."""
        turn_id = turn_workflow_id(self.state.thread_id, request.run_id)
        interval = self.state.turn_check_seconds
        next_check = workflow.time() + interval
        terminated = ""
        while not await self._ended_before(next_check):
            deadline = self.stop_deadline
            if deadline is not None and workflow.time() >= deadline:
                terminated = await terminate_turn(turn_id, self.state.stop_grace_seconds)
                self.stop_deadline = float("inf")  # terminated: from now on, just check
            elif workflow.time() < next_check:
                continue  # a stop armed the escalation clock: wait for the earlier of the two
            closed = await turn_closed(turn_id)
            if closed in ENDED_NORMALLY:
                return  # it recorded its end; its `turn_ended` is on the way
            if closed:
                why = f"the turn was terminated: {terminated}" if terminated else ""
                why = why or f"the turn ended without finishing its run ({closed.lower()})"
                await self._end(request, "error", _failure(why))
                return
            interval = min(interval * 2, LAST_CHECK_SECONDS)
            next_check = workflow.time() + (1.0 if terminated else interval)

    async def _ended_before(self, check_at: float) -> bool:
        """Wait until the active turn says it ended (True), the check is due, the stop
        deadline passes, or a stop arms it (False)."""
        armed = self.stop_deadline
        wake = check_at if armed is None else min(check_at, armed)
        try:
            await workflow.wait_condition(
                lambda: self.active_ended or self.stop_deadline != armed,
                timeout=timedelta(seconds=max(wake - workflow.time(), 0.001)),
            )
        except TimeoutError:
            return False
        return self.active_ended

    async def _follow(self, request: RunRequest, turn: Any) -> None:
        """Wait for the child turn (threads from before TOP_LEVEL_TURNS); a stop it
        ignores past the grace period terminates it."""
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
        except ChildWorkflowError as err:
            if isinstance(err.cause, CancelledError) and not terminated:
                return  # stopped: it recorded its own end before it ended as Canceled
            # Failed or terminated: its own finish never ran.
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
        if request.resume:
            return await self._resume(request)
        superseded: list[str] = []
        if self.paused is not None:  # new words while waiting for approval: they win
            stop = StopRequest(
                actor=request.turn.user_id,
                reason="a new message arrived while the turn waited for approval",
            )
            superseded = await self._supersede(stop)
        elif request.multitask_strategy in ("interrupt", "rollback") and self._busy():
            stop = StopRequest(
                action="rollback" if request.multitask_strategy == "rollback" else "interrupt",
                actor=request.turn.user_id,
                reason=f"superseded by a new run (multitask_strategy={request.multitask_strategy})",
            )
            superseded = await self._supersede(stop)
        starts_now = not self._busy() and self.active is None
        self.queue.append(request)
        return RunAdmission(
            run_id=request.run_id,
            status="running" if starts_now else "pending",
            superseded=superseded,
            workflow_id=turn_workflow_id(self.state.thread_id, request.run_id),
        )

    async def _resume(self, request: RunRequest) -> RunAdmission:
        """Hand the answer to the paused turn, which goes on under the new run."""
        assert self.active is not None and self.paused is not None
        turn_id = turn_workflow_id(self.state.thread_id, self.active.run_id)
        self.paused, self.active_run_id = None, request.run_id
        self.recent[request.run_id] = "running"
        resume = Resume(
            run_id=request.run_id,
            value=request.resume_value,
            actor=request.turn.user_id,
            record=request.turn.record,
        )
        await workflow.get_external_workflow_handle(turn_id).signal("resume", resume)
        return RunAdmission(run_id=request.run_id, status="running", workflow_id=turn_id)

    @submit_run.validator
    def _admit(self, request: RunRequest) -> None:
        if request.run_id in self.recent:
            return  # a retry of an admitted run: answered, never refused
        if self.closing:
            raise ApplicationError("the thread is being deleted", type=THREAD_CLOSED)
        if request.resume and self.paused is None:
            raise ApplicationError(
                "There is nothing to resume: the thread has no pending interrupt",
                type=NOTHING_TO_RESUME,
            )
        if request.multitask_strategy == "reject" and self._busy():
            raise ApplicationError(REJECT_DETAIL, type=THREAD_BUSY)

    def _busy(self) -> bool:
        """A turn works or runs wait; a turn paused for approval, or one whose run has
        ended (it is closing), keeps nobody waiting."""
        working = self.active is not None and self.paused is None and not self.active_ended
        return working or bool(self.queue)

    async def _supersede(self, stop: StopRequest) -> list[str]:
        """Stop the active turn and drop every queued run, for a run that replaces them."""
        dropped, self.queue = self.queue, []
        stopped = [r.run_id for r in dropped]
        for request in dropped:
            self.recent[request.run_id] = "ended"
            await self._end(request, "interrupted", _stopped(stop))
        if self.active is not None:
            stopped.insert(0, self.active_run_id or self.active.run_id)
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
        if self.active is not None and request.run_id in (self.active.run_id, self.active_run_id):
            return "running"
        return "ended" if request.run_id in self.recent else "unknown"

    @workflow.signal
    def stop_requested(self, request: RunStop) -> None:
        """The API stopped the active turn directly: start the escalation clock."""
        if self.active is not None and request.run_id in (self.active.run_id, self.active_run_id):
            self._arm_escalation()

    @workflow.signal
    def turn_ended(self, ended: TurnEnded) -> None:
        """The active turn recorded its run's end (its finish says so)."""
        if self.active is not None and ended.run_id == self.active.run_id:
            self.active_ended = True

    @workflow.signal
    def turn_paused(self, paused: Paused) -> None:
        """The active turn waits for a person: the thread is `interrupted`, not busy."""
        if self.active is not None:
            self.paused = paused
            self.recent[paused.run_id] = "ended"

    @workflow.update
    async def close(self, stop: StopRequest) -> None:
        """The thread is deleted: drop the queue, stop the active turn, end once it has."""
        self.closing = True
        await self._supersede(stop)
        await workflow.wait_condition(lambda: self.active is None)

    @workflow.query
    def status(self) -> dict[str, Any]:
        return {
            "active": self.active_run_id,
            "paused": self.paused is not None,
            "queued": [r.run_id for r in self.queue],
        }


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
