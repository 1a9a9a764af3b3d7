"""A test rig around one worker: start turns, watch their live events, stop them, read logs.

Turns are started directly (no thread workflow) so the workflow tests see exactly one turn;
the thread workflow has tests of its own. Live events come from the real broker.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from activities.tools import ToolActivities
from core.contracts import (
    TURN_WORKFLOW,
    Resume,
    StopRequest,
    TurnInput,
    TurnOutcome,
    turn_workflow_id,
)
from core.live import decode
from core.settings import Settings
from devstack.scripted_model.runner import RunningScriptedModel
from stores.records import RunRecord, utc_now
from stores.thread_store import ThreadStore
from tests.fixtures.eventually import eventually
from worker.__main__ import open_stores
from worker.assembly import Stores, build_worker

DEFAULT_GRAPH = "agents.react:graph"
TEST_GRAPHS = (
    "tests.agents_for_tests:undo_agent",
    "tests.agents_for_tests:hanging_agent",
    "tests.agents_for_tests:asking_agent",
)


@dataclass(frozen=True)
class LiveEvent:
    kind: str
    data: Any
    seq: int


def token_texts(events: list[LiveEvent]) -> list[str]:
    """Every streamed token of every model answer, in order."""
    return [
        e.data[0]["content"]
        for e in events
        if e.kind == "messages" and e.data[0].get("type") == "AIMessageChunk"
        and e.data[0].get("content")
    ]  # fmt: skip


@dataclass
class TurnRig:
    client: Client
    settings: Settings
    stores: Stores
    tools: ToolActivities
    model: RunningScriptedModel
    env: WorkflowEnvironment | None = None

    @property
    def store(self) -> ThreadStore:
        return self.stores.threads

    async def outcome(
        self, handle: WorkflowHandle[Any, TurnOutcome], *, skip_time: bool = False
    ) -> TurnOutcome:
        """The turn's result. The time-skipping server jumps to the next timer whenever it
        sees no work, and a running activity is not work to it: a streaming call would hit
        its heartbeat timeout. So time skips only when asked (retry backoffs, no activity
        streaming)."""
        try:
            if skip_time or self.env is None:
                return await handle.result()
            with self.env.auto_time_skipping_disabled():
                return await handle.result()
        except WorkflowFailureError as err:
            if not isinstance(err.cause, CancelledError):
                raise
        # A stopped turn ends as Canceled: its outcome is in its run's record.
        thread_id, run_id = handle.id.split(":")[1:]
        run = await self.stores.records.get_run(thread_id, run_id)
        assert run is not None and run.turn_outcome is not None, f"no outcome for {handle.id}"
        return run.turn_outcome

    async def start(
        self,
        text: str,
        *,
        thread_id: str,
        graph: str = DEFAULT_GRAPH,
        user: str = "tester",
        config: dict[str, Any] | None = None,
        interrupt_before: list[str] | None = None,
    ) -> WorkflowHandle[Any, TurnOutcome]:
        run_id = str(uuid.uuid4())
        human = {"type": "human", "content": text, "id": f"human-{run_id}"}
        record = RunRecord(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id="agent",
            user_id=user,
            created_at=utc_now(),
            updated_at=utc_now(),
            kwargs={"input": {"messages": [human]}},
        )
        turn = TurnInput(
            thread_id=thread_id,
            run_id=run_id,
            assistant_id="agent",
            graph_id=graph,
            user_id=user,
            input_messages=[human],
            model_name="scripted",
            heartbeat_timeout_seconds=self.settings.heartbeat.timeout_seconds,
            model_max_attempts=self.settings.model.max_attempts,
            record=record.as_dict(),
            config=config or {},
            interrupt_before=interrupt_before or [],
        )
        return await self.client.start_workflow(
            TURN_WORKFLOW,
            turn,
            id=turn_workflow_id(thread_id, run_id),
            task_queue=self.settings.temporal.task_queue,
            result_type=TurnOutcome,
        )

    async def resume(
        self, handle: WorkflowHandle[Any, Any], value: Any, *, user: str = "tester"
    ) -> str:
        """Answer a paused turn as a new run would (the thread workflow's signal); returns
        the new run's id, under which the turn goes on."""
        thread_id, first_run = handle.id.split(":")[1:]
        run_id = str(uuid.uuid4())
        record = RunRecord(
            run_id=run_id, thread_id=thread_id, assistant_id="agent", user_id=user,
            created_at=utc_now(), updated_at=utc_now(),
        )  # fmt: skip
        resume = Resume(run_id=run_id, value=value, actor=user, record=record.as_dict())
        await handle.signal("resume", resume)
        return run_id

    async def events(
        self, handle: WorkflowHandle[Any, Any], run_id: str | None = None
    ) -> AsyncIterator[LiveEvent]:
        """The run's live events as they are published, up to and including `end`."""
        run_id = run_id or handle.id.rsplit(":", 1)[1]
        events = self.stores.broker.subscribe(run_id)
        async with contextlib.aclosing(events):
            async for event in events:
                kind, body = decode(event.data)
                yield LiveEvent(kind, orjson.loads(body), event.seq)
                if kind == "end":
                    return

    async def wait_for_event(
        self, handle: WorkflowHandle[Any, Any], predicate: Callable[[LiveEvent], bool]
    ) -> list[LiveEvent]:
        seen: list[LiveEvent] = []
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

        async def completed() -> bool:
            events = [e async for e in handle.fetch_history_events()]
            done = sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED for e in events)
            return done >= count

        await eventually(completed, within=within, what=f"{count} activities completed")

    def model_calls(self, marker: str) -> list[dict[str, Any]]:
        return self.model.request_log.snapshot(contains=marker)

    async def wait_model_calls_closed(self, marker: str) -> list[dict[str, Any]]:
        return await model_calls_closed(self.model, marker)


async def model_calls_closed(
    model: RunningScriptedModel, marker: str, within: float = 10
) -> list[dict[str, Any]]:
    """A test's model calls (found by its marker) once every one has ended: the model has
    seen each connection close, normally or by disconnect."""

    def closed() -> list[dict[str, Any]]:
        calls = model.request_log.snapshot(contains=marker)
        return calls if calls and all(c["end"] is not None for c in calls) else []

    return await eventually(closed, within=within, what=f"model calls of {marker} closed")


@asynccontextmanager
async def running_rig(
    client: Client,
    settings: Settings,
    model: RunningScriptedModel,
    env: WorkflowEnvironment | None = None,
) -> AsyncIterator[TurnRig]:
    async with open_stores(settings) as stores:
        assembled = build_worker(client, settings, stores, extra_graph_refs=TEST_GRAPHS)
        async with assembled:
            yield TurnRig(client, settings, stores, assembled.tools, model, env)


def history_activity_names(events: list[Any]) -> list[str]:
    """Activities in the order the history records them, local ones (markers) included."""
    names = []
    for e in events:
        if e.HasField("activity_task_scheduled_event_attributes"):
            names.append(e.activity_task_scheduled_event_attributes.activity_type.name)
        elif e.HasField("marker_recorded_event_attributes"):
            attrs = e.marker_recorded_event_attributes
            if attrs.marker_name == "core_local_activity":
                data = orjson.loads(attrs.details["data"].payloads[0].data)
                names.append(data["activity_type"])
    return names
