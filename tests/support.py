"""A test rig around one worker: start turns, watch their events, stop them, read the logs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.testing import WorkflowEnvironment

from activities.thread_store import ThreadStore, open_thread_store
from activities.tools import ToolActivities
from core.contracts import (
    EVENTS_TOPIC,
    TURN_WORKFLOW,
    StopRequest,
    TurnEvent,
    TurnInput,
    TurnOutcome,
    turn_workflow_id,
)
from core.settings import Settings
from devstack.scripted_model.runner import RunningScriptedModel
from worker.assembly import build_worker

DEFAULT_GRAPH = "agents.react:graph"
TEST_GRAPHS = ("tests.agents_for_tests:undo_agent",)


@dataclass
class TurnRig:
    client: Client
    settings: Settings
    store: ThreadStore
    tools: ToolActivities
    model: RunningScriptedModel
    env: WorkflowEnvironment | None = None

    async def outcome(
        self, handle: WorkflowHandle[Any, TurnOutcome], *, skip_time: bool = False
    ) -> TurnOutcome:
        """The turn's result. The time-skipping server jumps to the next timer whenever it
        sees no work, and a running activity is not work to it: a streaming call would hit
        its heartbeat timeout. So time skips only when asked (retry backoffs, no activity
        streaming)."""
        if skip_time or self.env is None:
            return await handle.result()
        with self.env.auto_time_skipping_disabled():
            return await handle.result()

    async def start(
        self, text: str, *, thread_id: str, graph: str = DEFAULT_GRAPH
    ) -> WorkflowHandle[Any, TurnOutcome]:
        run_id = str(uuid.uuid4())
        turn = TurnInput(
            thread_id=thread_id,
            run_id=run_id,
            assistant_id="agent",
            graph_id=graph,
            user_id="tester",
            input_messages=[{"type": "human", "content": text, "id": f"human-{run_id}"}],
            model_name="scripted",
            heartbeat_timeout_seconds=self.settings.heartbeat.timeout_seconds,
            model_max_attempts=self.settings.model.max_attempts,
        )
        return await self.client.start_workflow(
            TURN_WORKFLOW,
            turn,
            id=turn_workflow_id(thread_id, run_id),
            task_queue=self.settings.temporal.task_queue,
            result_type=TurnOutcome,
        )

    async def events(self, handle: WorkflowHandle[Any, Any]) -> AsyncIterator[TurnEvent]:
        """The turn's events as they are published, up to and including `end`."""
        stream = WorkflowStreamClient.create(self.client, handle.id)
        async for item in stream.subscribe(
            [EVENTS_TOPIC], result_type=TurnEvent, poll_cooldown=timedelta(milliseconds=10)
        ):
            yield item.data
            if item.data.kind == "end":
                return

    async def wait_for_event(
        self, handle: WorkflowHandle[Any, Any], predicate: Callable[[TurnEvent], bool]
    ) -> list[TurnEvent]:
        seen: list[TurnEvent] = []
        async for event in self.events(handle):
            seen.append(event)
            if predicate(event):
                return seen
        raise AssertionError(f"turn ended before the awaited event; saw {[e.kind for e in seen]}")

    async def stop(
        self, handle: WorkflowHandle[Any, Any], action: str = "interrupt", reason: str = "test"
    ) -> None:
        request = StopRequest(action=action, actor="tester", reason=reason)  # type: ignore[arg-type]
        await handle.cancel(reason=request.to_cancel_reason())

    async def wait_for_completions(
        self, handle: WorkflowHandle[Any, Any], count: int, within: float = 10
    ) -> None:
        """Until `count` activities have completed in the history. Tests stop a turn only
        after the server recorded the calls meant to be finished: the time-skipping test
        server wedges on a cancel that crosses an activity completion (the real server
        treats it as a no-op; see the README)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            events = [e async for e in handle.fetch_history_events()]
            done = sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED for e in events)
            if done >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"fewer than {count} activities completed within {within}s")

    def model_calls(self, marker: str) -> list[dict[str, Any]]:
        return self.model.request_log.snapshot(contains=marker)

    async def wait_model_calls_closed(self, marker: str) -> list[dict[str, Any]]:
        return await model_calls_closed(self.model, marker)


async def model_calls_closed(
    model: RunningScriptedModel, marker: str, within: float = 10
) -> list[dict[str, Any]]:
    """A test's model calls (found by its marker) once every one has ended: the model has
    seen each connection close, normally or by disconnect."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        calls = model.request_log.snapshot(contains=marker)
        if calls and all(c["end"] is not None for c in calls):
            return calls
        await asyncio.sleep(0.005)
    raise AssertionError(f"model calls still open: {model.request_log.snapshot(contains=marker)}")


def token_texts(events: list[TurnEvent]) -> list[str]:
    """Every streamed token, in order (tokens travel in batches, one per stream flush)."""
    return [text for e in events if e.kind == "tokens" for text in e.data["texts"]]


@asynccontextmanager
async def running_rig(
    client: Client,
    settings: Settings,
    model: RunningScriptedModel,
    env: WorkflowEnvironment | None = None,
) -> AsyncIterator[TurnRig]:
    async with open_thread_store(settings) as store:
        assembled = build_worker(client, settings, store, extra_graph_refs=TEST_GRAPHS)
        async with assembled.worker:
            yield TurnRig(client, settings, store, assembled.tools, model, env)


def history_activity_names(events: list[Any]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
