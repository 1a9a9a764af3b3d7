"""The chat turn: one Temporal workflow execution per run of an agent on a thread.

The agent's LangGraph graph runs inside this workflow (workflows.graph_runner); its model
and tool calls are activities (workflows.turn_session). A stop is a workflow cancellation
whose reason carries the action, actor and reason (core.contracts.StopRequest), so
Temporal's history records it and a cancel from the Web UI or CLI behaves as an interrupt.
Live events go out through the outbox (workflows.outbox): the history holds the turn, not
its tokens.

A turn may pause to wait for a person (an approval, a graph's own `interrupt()`, a
breakpoint): its run ends, the turn waits in this same workflow on a durable timer, and a
new run that answers it (`command: {"resume": ...}`) continues it where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import CancelledError

with workflow.unsafe.imports_passed_through():
    from langchain_core.messages import BaseMessage

    from agents.registry import load_agent
    from core.contracts import (
        END_TURN,
        SA_STOPPED_BY,
        SA_TURN_STATUS,
        TURN_WORKFLOW,
        Resume,
        StopRequest,
        TurnInput,
        TurnOutcome,
    )
    from core.messages import from_dicts, removal, to_dicts
    from workflows.graph_runner import GraphRunner, Pause
    from workflows.live_state import values_event
    from workflows.stopping import TurnStopped
    from workflows.turn_io import begin_turn, finish_turn, start_run, tell_thread_paused
    from workflows.turn_outcomes import Settled, details_for, pause_details
    from workflows.turn_policy import tool_policy
    from workflows.turn_session import TurnSession
    from workflows.turn_settle import expired, failed, kept, resolved, rolled_back

TURN_STATUS = SearchAttributeKey.for_keyword(SA_TURN_STATUS)
STOPPED_BY = SearchAttributeKey.for_keyword(SA_STOPPED_BY)
T = TypeVar("T")


@workflow.defn(name=TURN_WORKFLOW)
class TurnWorkflow:
    @workflow.init
    def __init__(self, inp: TurnInput) -> None:
        self.agent = load_agent(inp.graph_id)
        self.session = TurnSession(inp, tool_policy(inp, self.agent))
        self.inp = inp
        self.input_messages = list(inp.input_messages)
        self.record = inp.record
        """The record of the run the turn serves now (a resume brings another)."""
        self.resumed: Resume | None = None
        self.paused_once = False
        self.active_seconds = 0.0
        self.runner: GraphRunner | None = None

    @workflow.signal
    def resume(self, resume: Resume) -> None:
        """A new run answers the pause (from the thread workflow)."""
        self.resumed = resume

    @workflow.run
    async def run(self, inp: TurnInput) -> TurnOutcome:
        segment: asyncio.Task[Pause | None] | None = None
        try:
            workflow.set_current_details("loading the thread")
            context = await begin_turn(inp)
            self.session.context = context
            self.input_messages = _fresh_ids(inp.input_messages, context.taken_ids, inp.run_id)
            graph_input: Any = {"messages": from_dicts(context.window + self.input_messages)}
            while True:
                workflow.set_current_details("answering")
                segment = asyncio.create_task(self._segment(graph_input))
                await self._within_deadline(segment)
                pause = segment.result() if segment.done() and not segment.exception() else None
                if pause is None:
                    break
                graph_input = await self._wait_for_a_person(pause)
                if graph_input is _EXPIRED:
                    settled = expired(self.session, self._limits(), self._with_input)
                    return await self._finish(settled)
                if isinstance(graph_input, _Resolved):
                    settled = resolved(self.session, graph_input.actor, self._with_input)
                    return await self._finish(settled)
                segment = None
        except asyncio.CancelledError:
            self.session.begin_stop(StopRequest.from_cancel_reason(workflow.cancellation_reason()))
        outcome = await self._finish(await self._settle(segment))
        if workflow.cancellation_reason() is not None:
            # A turn someone stopped ends as Canceled, so Temporal's own lists say so; how it
            # ended (kept, undone, by whom) is in its record, its details and TurnStatus.
            raise CancelledError(details_for(outcome))
        return outcome

    def _limits(self) -> Any:
        return self.session.policy.limits

    async def _segment(self, graph_input: Any) -> Pause | None:
        """Run the graph until it ends or pauses. Whatever goes wrong in it, building the
        graph included (a breakpoint on a node it does not have), fails the turn cleanly:
        an error escaping the workflow would fail its task and retry it for ever."""
        if self.runner is None:
            context = self.session.context
            assert context is not None
            self.runner = GraphRunner(self.agent, self.inp, context, self.session.outbox)
        return await self.runner.run(graph_input)

    async def _within_deadline(self, segment: asyncio.Task[Pause | None]) -> None:
        """The turn's active time is bounded (limits.deadline_seconds): past it, the turn
        ends like a stop that keeps the partial answer."""
        deadline = self._limits().deadline_seconds
        started = workflow.time()
        try:
            if deadline is None:
                await asyncio.wait({segment})  # neither cancels the graph nor raises its error
                return
            remaining = max(deadline - self.active_seconds, 0.001)
            try:
                await workflow.wait_condition(segment.done, timeout=timedelta(seconds=remaining))
            except TimeoutError:
                reason = f"deadline: the turn ran past {deadline:g} s"
                self.session.begin_stop(StopRequest(actor="chatstop", reason=reason))
                await asyncio.wait({segment})
        finally:
            self.active_seconds += workflow.time() - started

    async def _wait_for_a_person(self, pause: Pause) -> Any:
        """End this run as paused, wait (durably) for the run that answers, go on under it."""
        self.paused_once = True
        paused = TurnOutcome(
            status="success", turn_status="completed", outcome="paused",
            interrupts=pause.interrupts,
        )  # fmt: skip
        commit = self._with_input(to_dicts(self.session.produced))
        # The thread hears first: a client that resumes the moment it sees the run's end
        # must find the thread already waiting for that answer.
        await tell_thread_paused(self.inp, self.session.run_id, pause.interrupts)
        await finish_turn(self.inp, self.session, paused, commit, record=self.record,
                          interrupts=_thread_interrupts(pause))  # fmt: skip
        workflow.upsert_search_attributes([TURN_STATUS.value_set("awaiting_approval")])
        workflow.set_current_details(pause_details(pause))
        timeout = timedelta(seconds=self._limits().approval_timeout_seconds)
        try:
            await workflow.wait_condition(lambda: self.resumed is not None, timeout=timeout)
        except TimeoutError:
            return _EXPIRED
        resume, self.resumed = self.resumed, None
        assert resume is not None
        self.session.run_id, self.record = resume.run_id, resume.record
        await start_run(resume.record)
        workflow.upsert_search_attributes([TURN_STATUS.value_set("running")])
        workflow.logger.info("resumed by %s in run %s", resume.actor, resume.run_id)
        if resume.value == END_TURN:
            return _Resolved(actor=resume.actor)
        return GraphRunner.resume(resume.value)

    async def _settle(self, segment: asyncio.Task[Pause | None] | None) -> Settled:
        error: BaseException | None = None
        if segment is not None:
            try:
                await self._uninterruptible(segment)
            except TurnStopped:
                pass
            except Exception as err:  # the turn failed; it still ends in one clear state
                error = err
        stop = self.session.stop
        if stop is not None and stop.action == "rollback":
            settled = await self._uninterruptible(rolled_back(self.session, self.agent, stop))
            if self.paused_once:  # the pause committed the turn so far: take it back out
                committed = self._with_input(to_dicts(self.session.produced))
                settled = replace(settled, commit=[removal(m["id"]) for m in committed])
            return settled
        if stop is not None:
            return kept(self.session, stop, self._with_input)
        if error is not None:
            return failed(self.session, error, self._with_input)
        outcome = TurnOutcome(status="success", turn_status="completed", outcome="completed")
        return Settled(outcome=outcome, commit=self._with_input(to_dicts(self._new_messages())))

    def _new_messages(self) -> list[BaseMessage]:
        """What the graph added beyond the thread so far and this turn's input."""
        assert self.runner is not None and self.session.context is not None
        known = {m.get("id") for m in self.session.context.window}
        known |= {m["id"] for m in self.input_messages}
        return [m for m in self.runner.messages() if m.id not in known]

    def _with_input(self, turn_messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*self.input_messages, *turn_messages]

    async def _finish(self, settled: Settled) -> TurnOutcome:
        """Commit, publish the last events and `end`, record the outcome: one activity that
        a stop arriving now cannot interrupt, so the thread is never left half-written."""
        outcome = settled.outcome
        if settled.commit is not None:
            outcome = replace(outcome, messages=settled.commit)
        context = self.session.context
        if context is not None and outcome.turn_status != "completed":
            # What the thread holds now, for clients that follow `values`.
            added = [] if outcome.turn_status == "rolled_back" else settled.commit or []
            kept_now = from_dicts(context.window + added)
            values = values_event(self.inp, context, {"messages": kept_now})
            self.session.outbox.add("values", values)
        await self._uninterruptible(
            finish_turn(
                self.inp,
                self.session,
                outcome,
                settled.commit,
                record=self.record,
                reopen=self.paused_once,
            )  # fmt: skip
        )
        attributes = [TURN_STATUS.value_set(outcome.turn_status)]
        if outcome.stop is not None:  # who stopped it, searchable: StoppedBy="alice"
            attributes.append(STOPPED_BY.value_set(outcome.stop.actor))
        workflow.upsert_search_attributes(attributes)
        workflow.set_current_details(details_for(outcome))
        return outcome

    async def _uninterruptible(self, work: Awaitable[T]) -> T:
        """A stop arriving now is too late to change the outcome: commit and compensation
        finish."""
        task = asyncio.ensure_future(work)
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                workflow.logger.info("stop arrived after the turn settled; it has no effect")


_EXPIRED = object()
"""The pause's approval timeout fired before anyone answered."""


@dataclass(frozen=True)
class _Resolved:
    """Someone ended the wait without deciding (`command.goto: "__end__"`)."""

    actor: str


def _thread_interrupts(pause: Pause) -> list[dict[str, Any]]:
    """The thread's pending interrupts, with the task that raised each (for `interrupts`
    keyed by task id and `tasks[].interrupts`, as the Agent Server shows them)."""
    pending = [
        {**i, "task_id": pause.task_ids.get(i["id"], ""), "next": pause.next}
        for i in pause.interrupts
    ]
    return pending or [{"value": None, "id": "", "task_id": "", "next": pause.next}]


def _fresh_ids(
    messages: list[dict[str, Any]], taken: list[str], run_id: str
) -> list[dict[str, Any]]:
    """An input message may not reuse an id the thread already has: a commit merges by id,
    so it would overwrite history (a ToolMessage, leaving a dangling call)."""
    if not taken:
        return messages
    return [{**m, "id": f"{m['id']}-{run_id}"} if m.get("id") in taken else m for m in messages]
