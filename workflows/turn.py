"""The chat turn: one Temporal workflow execution per run of an agent on a thread.

The agent's LangGraph graph runs inside this workflow; its model and tool calls are
activities (workflows.turn_session). A stop is a workflow cancellation whose reason carries
the action, actor and reason (core.contracts.StopRequest), so Temporal's history records it
and a cancel from the Web UI or CLI behaves as an interrupt. Live events go out through the
outbox (workflows.outbox); the history holds the turn, not its tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableConfig
    from langgraph.types import StreamMode

    from agents.registry import load_agent
    from core.contracts import (
        SA_STOPPED_BY,
        SA_TURN_STATUS,
        TURN_WORKFLOW,
        StopRequest,
        TurnInput,
        TurnOutcome,
    )
    from core.messages import from_dicts, to_dicts
    from workflows.compensation import kept_messages, roll_back
    from workflows.live_state import graph_event, values_event
    from workflows.stopping import TurnStopped
    from workflows.turn_io import begin_turn, finish_turn
    from workflows.turn_outcomes import Settled, describe_error, details_for
    from workflows.turn_session import TurnSession

TURN_STATUS = SearchAttributeKey.for_keyword(SA_TURN_STATUS)
STOPPED_BY = SearchAttributeKey.for_keyword(SA_STOPPED_BY)
GRAPH_STREAM_MODES: list[StreamMode] = ["updates", "values", "custom"]
DEFAULT_RECURSION_LIMIT = 50
T = TypeVar("T")


@workflow.defn(name=TURN_WORKFLOW)
class TurnWorkflow:
    @workflow.init
    def __init__(self, inp: TurnInput) -> None:
        self.agent = load_agent(inp.graph_id)
        tool_schemas = [tool.openai_schema() for tool in self.agent.tools]
        self.session = TurnSession(inp, tool_schemas, self.agent.system_prompt)
        self.inp = inp
        self.input_messages = list(inp.input_messages)

    @workflow.run
    async def run(self, inp: TurnInput) -> TurnOutcome:
        graph: asyncio.Task[list[BaseMessage]] | None = None
        try:
            workflow.set_current_details("loading the thread")
            context = await begin_turn(inp)
            self.session.context = context
            self.input_messages = _fresh_ids(inp.input_messages, context.taken_ids, inp.run_id)
            graph = asyncio.create_task(self._run_graph())
            # asyncio.wait neither cancels the graph nor raises its error: the cancel is
            # handled here, explicitly, not inside LangGraph; errors are settled below.
            await asyncio.wait({graph})
        except asyncio.CancelledError:
            self.session.begin_stop(StopRequest.from_cancel_reason(workflow.cancellation_reason()))
        settled = await self._settle(graph)
        return await self._finish(settled)

    async def _run_graph(self) -> list[BaseMessage]:
        context = self.session.context
        assert context is not None
        prior = from_dicts(context.window)
        state: dict[str, Any] = {"messages": prior + from_dicts(self.input_messages)}
        config = cast(
            RunnableConfig, {"recursion_limit": DEFAULT_RECURSION_LIMIT, **self.inp.config}
        )
        app = self.agent.graph.compile()
        workflow.set_current_details("answering")
        async for mode, chunk in app.astream(state, config=config, stream_mode=GRAPH_STREAM_MODES):
            if mode == "values":
                state = cast(dict[str, Any], chunk)
                self.session.outbox.add("values", values_event(self.inp, context, state))
            else:
                self.session.outbox.add(mode, graph_event(chunk))
        # What the graph added beyond the thread so far and this turn's input.
        known = {m.id for m in prior} | {m["id"] for m in self.input_messages}
        return [m for m in state["messages"] if m.id not in known]

    async def _settle(self, graph: asyncio.Task[list[BaseMessage]] | None) -> Settled:
        new: list[BaseMessage] = []
        error: BaseException | None = None
        if graph is not None:
            try:
                new = await self._uninterruptible(graph)
            except TurnStopped:
                pass
            except Exception as err:  # the turn failed; it still ends in one clear state
                error = err
        stop = self.session.stop
        if stop is not None:
            if stop.action == "rollback":
                return await self._roll_back(stop)
            return self._keep(stop)
        if error is not None:
            return self._fail(error)
        outcome = TurnOutcome(status="success", turn_status="completed", outcome="completed")
        return Settled(outcome=outcome, commit=self._with_input(to_dicts(new)))

    def _keep(self, stop: StopRequest) -> Settled:
        marker = {
            "stopped": True,
            "finish_reason": "stopped",
            "stop_reason": stop.reason,
            "stopped_by": stop.actor,
        }
        messages, kept = kept_messages(self.session, marker)
        outcome = TurnOutcome(
            status="interrupted", turn_status="stopped", outcome="interrupted", stop=stop, kept=kept
        )
        return Settled(outcome=outcome, commit=self._with_input(to_dicts(messages)))

    async def _roll_back(self, stop: StopRequest) -> Settled:
        compensable = {t.name for t in self.agent.tools if t.compensator is not None}
        workflow.set_current_details(f"rolling back, as {stop.actor} asked")
        report = await self._uninterruptible(roll_back(self.session, compensable))
        # Nothing is committed: the thread stays exactly at its pre-turn checkpoint.
        if report.not_undone:
            outcome = TurnOutcome(
                status="error",
                turn_status="error",
                outcome="rollback_failed",
                stop=stop,
                undone=report.undone,
                not_undone=report.not_undone,
                error="could not undo: " + "; ".join(report.not_undone),
            )
        else:
            outcome = TurnOutcome(
                status="interrupted",
                turn_status="rolled_back",
                outcome="rolled_back",
                stop=stop,
                undone=report.undone,
            )
        return Settled(outcome=outcome, commit=None)

    def _fail(self, error: BaseException) -> Settled:
        cause = describe_error(error)
        self.session.outbox.add("error", {"error": type(error).__name__, "message": cause})
        marker = {"finish_reason": "error", "error": cause}
        messages, kept = kept_messages(self.session, marker, why="the turn failed")
        outcome = TurnOutcome(
            status="error", turn_status="error", outcome="error", error=cause, kept=kept
        )
        return Settled(outcome=outcome, commit=self._with_input(to_dicts(messages)))

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
            kept = from_dicts(context.window + (settled.commit or []))
            self.session.outbox.add("values", values_event(self.inp, context, {"messages": kept}))
        await self._uninterruptible(finish_turn(self.inp, self.session, outcome, settled.commit))
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


def _fresh_ids(
    messages: list[dict[str, Any]], taken: list[str], run_id: str
) -> list[dict[str, Any]]:
    """An input message may not reuse an id the thread already has: a commit merges by id,
    so it would overwrite history (a ToolMessage, leaving a dangling call)."""
    if not taken:
        return messages
    return [{**m, "id": f"{m['id']}-{run_id}"} if m.get("id") in taken else m for m in messages]
