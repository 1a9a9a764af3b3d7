"""The chat turn: one Temporal workflow execution per run of an agent on a thread.

The agent's LangGraph graph runs inside this workflow; its model and tool calls are
activities (workflows.turn_session). A stop is a workflow cancellation whose reason carries
the action, actor and reason (core.contracts.StopRequest), so Temporal's history records it
and a cancel from the Web UI or CLI behaves as an interrupt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import asdict
from datetime import timedelta
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.contrib.workflow_streams import WorkflowStream

with workflow.unsafe.imports_passed_through():
    from langchain_core.messages import BaseMessage

    from agents.registry import load_agent
    from core.contracts import (
        EVENTS_TOPIC,
        SA_TURN_STATUS,
        TURN_WORKFLOW,
        CommitInput,
        Message,
        StopRequest,
        ThreadSnapshot,
        TurnEvent,
        TurnInput,
        TurnOutcome,
    )
    from core.messages import from_dicts, to_dict, to_dicts
    from workflows.agent_calls import TurnStopped
    from workflows.compensation import kept_messages, roll_back
    from workflows.turn_session import TurnSession

TURN_STATUS = SearchAttributeKey.for_keyword(SA_TURN_STATUS)
T = TypeVar("T")


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseMessage):
        return to_dict(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _describe_error(err: BaseException) -> str:
    """The activity's own message (e.g. "model endpoint returned HTTP 500: ..."), not the
    generic "Activity task failed" wrapper."""
    cause = getattr(err, "cause", None)
    return str(getattr(cause, "message", None) or err)


@workflow.defn(name=TURN_WORKFLOW)
class TurnWorkflow:
    @workflow.init
    def __init__(self, inp: TurnInput) -> None:
        self.stream = WorkflowStream()
        self.events = self.stream.topic(EVENTS_TOPIC, type=TurnEvent)
        self.agent = load_agent(inp.graph_id)
        tool_schemas = [tool.openai_schema() for tool in self.agent.tools]
        self.session = TurnSession(inp, tool_schemas, self.agent.system_prompt)
        self.inp = inp

    @workflow.run
    async def run(self, inp: TurnInput) -> TurnOutcome:
        workflow.upsert_search_attributes([TURN_STATUS.value_set("running")])
        graph: asyncio.Task[list[BaseMessage]] | None = None
        try:
            snapshot = await workflow.execute_activity(
                "load_thread",
                inp.thread_id,
                result_type=ThreadSnapshot,
                start_to_close_timeout=timedelta(seconds=30),
                summary="load thread",
            )
            graph = asyncio.create_task(self._run_graph(snapshot))
            # asyncio.wait neither cancels the graph nor raises its error: the cancel is
            # handled here, explicitly, not inside LangGraph; errors are settled below.
            await asyncio.wait({graph})
        except asyncio.CancelledError:
            self.session.begin_stop(StopRequest.from_cancel_reason(workflow.cancellation_reason()))
        outcome = await self._settle(graph)
        return await self._finish(outcome)

    async def _run_graph(self, snapshot: ThreadSnapshot) -> list[BaseMessage]:
        prior = from_dicts(snapshot.messages)
        state: dict[str, Any] = {"messages": prior + from_dicts(self.inp.input_messages)}
        app = self.agent.graph.compile()
        async for mode, chunk in app.astream(
            state, config={"recursion_limit": 50}, stream_mode=["updates", "values"]
        ):
            self.events.publish(TurnEvent(kind=mode, data=_jsonable(chunk)))
            if mode == "values":
                state = cast(dict[str, Any], chunk)
        # What the graph added beyond the thread so far and this turn's input.
        known = {m.id for m in prior} | {m["id"] for m in self.inp.input_messages}
        return [m for m in state["messages"] if m.id not in known]

    async def _settle(self, graph: asyncio.Task[list[BaseMessage]] | None) -> TurnOutcome:
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
            return await (self._roll_back(stop) if stop.action == "rollback" else self._keep(stop))
        if error is not None:
            return await self._fail(error)
        committed = await self._commit(to_dicts(new))
        return TurnOutcome(
            status="success", turn_status="completed", outcome="completed", messages=committed
        )

    async def _keep(self, stop: StopRequest) -> TurnOutcome:
        marker = {
            "stopped": True,
            "finish_reason": "stopped",
            "stop_reason": stop.reason,
            "stopped_by": stop.actor,
        }
        messages, kept = kept_messages(self.session, marker)
        committed = await self._commit(to_dicts(messages))
        return TurnOutcome(
            status="interrupted",
            turn_status="stopped",
            outcome="interrupted",
            stop=stop,
            kept=kept,
            messages=committed,
        )

    async def _roll_back(self, stop: StopRequest) -> TurnOutcome:
        compensable = {t.name for t in self.agent.tools if t.compensator is not None}
        report = await self._uninterruptible(roll_back(self.session, compensable))
        # Nothing is committed: the thread stays exactly at its pre-turn checkpoint.
        if report.not_undone:
            return TurnOutcome(
                status="error",
                turn_status="error",
                outcome="rollback_failed",
                stop=stop,
                undone=report.undone,
                not_undone=report.not_undone,
                error="could not undo: " + "; ".join(report.not_undone),
            )
        return TurnOutcome(
            status="interrupted",
            turn_status="rolled_back",
            outcome="rolled_back",
            stop=stop,
            undone=report.undone,
        )

    async def _fail(self, error: BaseException) -> TurnOutcome:
        cause = _describe_error(error)
        self.events.publish(
            TurnEvent(kind="error", data={"error": type(error).__name__, "message": cause})
        )
        marker = {"finish_reason": "error", "error": cause}
        messages, kept = kept_messages(self.session, marker, why="the turn failed")
        committed = await self._commit(to_dicts(messages))
        return TurnOutcome(
            status="error",
            turn_status="error",
            outcome="error",
            error=cause,
            kept=kept,
            messages=committed,
        )

    async def _commit(self, turn_messages: list[Message]) -> list[Message]:
        messages = [*self.inp.input_messages, *turn_messages]
        await self._uninterruptible(
            workflow.execute_activity(
                "commit_turn",
                CommitInput(
                    thread_id=self.inp.thread_id, run_id=self.inp.run_id, messages=messages
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=20),
                summary="commit turn",
            )
        )
        return messages

    async def _uninterruptible(self, work: Awaitable[T]) -> T:
        """A stop arriving now is too late to change the outcome: commit and compensation
        finish, so the thread is never left half-written."""
        task = asyncio.ensure_future(work)
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                workflow.logger.info("stop arrived after the turn settled; it has no effect")

    async def _finish(self, outcome: TurnOutcome) -> TurnOutcome:
        end = {k: v for k, v in asdict(outcome).items() if k != "messages"}
        self.events.publish(TurnEvent(kind="end", data=end))
        workflow.upsert_search_attributes([TURN_STATUS.value_set(outcome.turn_status)])
        # Release long-polling subscribers so the run can close without pending updates.
        self.stream.detach_pollers()
        await self._uninterruptible(workflow.wait_condition(workflow.all_handlers_finished))
        return outcome
