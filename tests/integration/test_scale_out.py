"""Two of everything behave as one service: two worker processes and two API processes
against one Temporal dev server, one NATS and one PostgreSQL (records and thread state),
under kills."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from core.contracts import turn_workflow_id
from core.settings import Settings
from devstack.isolated import free_port
from devstack.scripted_model.runner import RunningScriptedModel
from tests.fixtures.eventually import eventually
from tests.fixtures.nats import NatsServer, settings_for
from tests.integration.worker_process import (
    ApiProcess,
    WorkerProcess,
    api_process,
    worker_process,
)
from tests.stack import stack_settings

pytestmark = pytest.mark.integration


@dataclass
class Pair:
    settings: Settings
    env: WorkflowEnvironment
    model: RunningScriptedModel
    apis: list[ApiProcess]
    workers: list[WorkerProcess]

    def client(self, index: int) -> Any:
        return get_client(url=self.apis[index].url)

    def calls(self, marker: str) -> list[dict[str, Any]]:
        return self.model.request_log.snapshot(contains=marker)


@pytest_asyncio.fixture
async def pair(
    dev_server: WorkflowEnvironment,
    scripted_model: RunningScriptedModel,
    nats_server: NatsServer,
    postgres_url: str,
    tmp_path: Path,
) -> AsyncIterator[Pair]:
    base = stack_settings(
        tmp_path, scripted_model, dev_server.client, settings_for(nats_server.url)
    )
    settings = base.model_copy(
        update={
            "store": base.store.model_copy(
                update={"backend": "postgres", "postgres_url": postgres_url}
            ),
            "heartbeat": base.heartbeat.model_copy(update={"timeout_seconds": 4}),
        }
    )
    client = dev_server.client
    async with (
        worker_process(client, settings, tmp_path / "worker-a.log") as worker_a,
        worker_process(client, settings, tmp_path / "worker-b.log") as worker_b,
        api_process(settings, tmp_path / "api-a.log", free_port()) as api_a,
        api_process(settings, tmp_path / "api-b.log", free_port()) as api_b,
    ):
        yield Pair(settings, dev_server, scripted_model, [api_a, api_b], [worker_a, worker_b])


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def _workers_of(pair: Pair, thread: str, run_id: str) -> set[str]:
    handle = pair.env.client.get_workflow_handle(turn_workflow_id(thread, run_id))
    return {
        e.activity_task_started_event_attributes.identity.split("@")[0]
        for e in [e async for e in handle.fetch_history_events()]
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    }


async def test_runs_spread_over_both_workers_and_a_stop_crosses_apis(
    pair: Pair, marker: str
) -> None:
    async def one(index: int) -> tuple[str, str]:
        client = pair.client(index % 2)
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(
            thread, "agent", input=_user(f"[tokens=20][pace=20] {marker}")
        )
        await client.runs.join(thread, run["run_id"])
        return thread, run["run_id"]

    runs = await asyncio.gather(*(one(i) for i in range(10)))
    used = set().union(*[await _workers_of(pair, t, r) for t, r in runs])
    assert {str(w.pid) for w in pair.workers} <= used, used

    streaming, stopping = pair.client(0), pair.client(1)
    thread = (await streaming.threads.create())["thread_id"]
    tokens, run_id, parts = 0, "", []
    async for part in streaming.runs.stream(
        thread, "agent", input=_user(f"[tokens=2000][pace=10] stop me {marker}"),
        stream_mode=["messages-tuple"],
    ):  # fmt: skip
        parts.append(part)
        run_id = part.data["run_id"] if part.event == "metadata" else run_id
        tokens += part.event == "messages"
        if tokens == 10:
            await stopping.runs.cancel(thread, run_id)
    assert parts[-1].event == "end" and parts[-1].data["outcome"] == "interrupted"
    [call] = [c for c in pair.calls(marker) if "stop me" in str(c["messages"])]
    assert call["disconnected"] is True


async def test_reject_and_enqueue_hold_across_two_apis(pair: Pair, marker: str) -> None:
    thread = (await pair.client(0).threads.create())["thread_id"]
    body = {"assistant_id": "agent", "input": _user(f"[tokens=200][pace=10] {marker}")}

    async def post(index: int, strategy: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=pair.apis[index].url, timeout=30) as http:
            payload = {**body, "multitask_strategy": strategy}
            return await http.post(f"/threads/{thread}/runs", json=payload)

    rejected = await asyncio.gather(post(0, "reject"), post(1, "reject"))
    assert sorted(r.status_code for r in rejected) == [200, 409]  # exactly one runs
    winner = next(r.json() for r in rejected if r.status_code == 200)
    await pair.client(0).runs.join(thread, winner["run_id"])

    first = (await post(0, "enqueue")).json()
    second = (await post(1, "enqueue")).json()
    await pair.client(1).runs.join(thread, second["run_id"])
    for run in (first, second):
        assert (await pair.client(0).runs.get(thread, run["run_id"]))["status"] == "success"
    calls = sorted(pair.calls(marker), key=lambda c: c["start"])
    assert len(calls) == 3 and calls[1]["end"] <= calls[2]["start"]  # in order, one at a time


async def test_a_killed_worker_hands_its_runs_to_the_other_answered_once(
    pair: Pair, marker: str
) -> None:
    client = pair.client(0)
    threads = [(await client.threads.create())["thread_id"] for _ in range(4)]
    runs = [
        await client.runs.create(t, "agent", input=_user(f"[tokens=150][pace=20] {marker} {i}"))
        for i, t in enumerate(threads)
    ]

    async def streaming_on(worker: WorkerProcess) -> bool:
        for thread, run in zip(threads, runs, strict=True):
            if str(worker.pid) in await _workers_of(pair, thread, run["run_id"]):
                return True
        return False

    victim = pair.workers[0]
    await eventually(lambda: streaming_on(victim), within=20, what="the victim holds a run")
    await victim.kill()
    for thread, run in zip(threads, runs, strict=True):
        await client.runs.join(thread, run["run_id"])
        assert (await client.runs.get(thread, run["run_id"]))["status"] == "success"
        state: Any = await client.threads.get_state(thread)
        assert len(state["values"]["messages"][-1]["content"].split()) == 150  # once, whole


async def test_a_killed_api_mid_stream_loses_nothing_the_other_resumes(
    pair: Pair, marker: str
) -> None:
    doomed, survivor = pair.client(0), pair.client(1)
    thread = (await doomed.threads.create())["thread_id"]
    seen: list[tuple[str, str]] = []
    run_id = ""
    async for part in doomed.runs.stream(
        thread, "agent", input=_user(f"[tokens=120][pace=20] {marker}"),
        stream_mode=["messages-tuple"], stream_resumable=True,
    ):  # fmt: skip
        run_id = part.data["run_id"] if part.event == "metadata" else run_id
        if part.event == "messages" and part.data[0]["content"]:
            seen.append((part.id, part.data[0]["content"]))
        if len(seen) == 25:
            break
    await pair.apis[0].kill()
    rest = [
        part.data[0]["content"]
        async for part in survivor.runs.join_stream(thread, run_id, last_event_id=seen[-1][0])
        if part.event == "messages" and part.data[0].get("type") == "AIMessageChunk"
    ]
    state: Any = await survivor.threads.get_state(thread)
    answer = state["values"]["messages"][-1]["content"]
    assert "".join(text for _, text in seen) + "".join(rest) == answer
