"""`python -m devstack --split-worker`: workflow tasks in one worker process, model and tool
calls in another. A turn needs both (the workflow worker takes no activity task), a Stop
reaches the call worker, and a call worker that exits is replaced like any worker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core.settings import Settings, load_settings
from devstack.banner import BANNER_LAST_LINE
from devstack.isolated import isolated_ports
from devstack.readiness import wait_for_temporal, wait_for_worker
from tests.fixtures.eventually import eventually
from tests.integration.test_devstack import (
    STARTUP_DEADLINE,
    STOP_DEADLINE,
    group_alive,
    kill_groups,
    launched,
    read_pids,
    stack_env,
)

pytestmark = pytest.mark.integration

AGENT = {"assistant_id": "agent"}


def _ask(text: str) -> dict[str, Any]:
    return {**AGENT, "input": {"messages": [{"role": "user", "content": text}]}}


async def _pollers(client: Client, settings: Settings, kind: TaskQueueType.ValueType) -> set[int]:
    """The pids polling the chat task queue for this kind of task."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal.namespace,
            task_queue=TaskQueue(name=settings.temporal.task_queue),
            task_queue_type=kind,
        )
    )
    return {int(poller.identity.split("@")[0]) for poller in response.pollers}


async def _answer(http: httpx.AsyncClient, text: str) -> dict[str, Any]:
    thread = (await http.post("/threads", json={})).json()["thread_id"]
    response = await http.post(f"/threads/{thread}/runs/wait", json=_ask(text))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _stop_mid_answer(http: httpx.AsyncClient) -> dict[str, Any]:
    """Stream a long answer, stop it after a few tokens; the stopped run as the API has it."""
    thread = (await http.post("/threads", json={})).json()["thread_id"]
    body = {**_ask("[tokens=2000][pace=20] a long one"), "stream_mode": ["messages-tuple"]}
    run_id, tokens = "", 0
    async with http.stream("POST", f"/threads/{thread}/runs/stream", json=body) as stream:
        async for line in stream.aiter_lines():
            if line.startswith('data: {"run_id"'):
                run_id = json.loads(line[len("data: ") :])["run_id"]
            if line.startswith("event: messages"):
                tokens += 1
            if tokens == 5:
                break
    stopped = await http.post(
        f"/threads/{thread}/runs/{run_id}/cancel",
        params={"action": "interrupt", "wait": "true"},
    )
    assert stopped.status_code == 200, stopped.text
    return dict(stopped.json())


@pytest.mark.timeout(STARTUP_DEADLINE + STOP_DEADLINE + 120)
async def test_a_split_worker_answers_stops_and_replaces_its_call_worker(tmp_path: Path) -> None:
    ports = isolated_ports()
    settings = load_settings(temporal={"address": f"127.0.0.1:{ports['grpc']}"})
    seen: set[int] = set()
    async with launched(stack_env(tmp_path, ports), "--split-worker") as (proc, output):
        try:
            await output.wait_for(BANNER_LAST_LINE, within=STARTUP_DEADLINE)
            before = read_pids(tmp_path)
            seen.update(before.values())
            assert list(before) == ["temporal", "broker", "model", "worker", "worker-calls", "api"]
            client = await wait_for_temporal(settings, within=10)
            workflow_kind = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
            activity_kind = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
            assert before["worker-calls"] not in await _pollers(client, settings, workflow_kind)
            assert before["worker"] not in await _pollers(client, settings, activity_kind)

            api = f"http://127.0.0.1:{ports['api']}"
            async with httpx.AsyncClient(base_url=api, timeout=60) as http:
                answered = await _answer(http, "[tokens=12] hello")
                assert answered["messages"][-1]["type"] == "ai"
                assert answered["messages"][-1]["content"]

                stopped = await _stop_mid_answer(http)
                assert stopped["status"] == "interrupted", stopped

                os.kill(before["worker-calls"], signal.SIGINT)  # a rolling deploy of the calls

                def replaced() -> dict[str, int] | None:
                    pids = read_pids(tmp_path)
                    return pids if pids["worker-calls"] != before["worker-calls"] else None

                after = await eventually(replaced, within=60, what="a new call worker pid")
                seen.update(after.values())
                assert {k: v for k, v in after.items() if k != "worker-calls"} == {
                    k: v for k, v in before.items() if k != "worker-calls"
                }
                new_calls = after["worker-calls"]
                await wait_for_worker(client, settings, within=60, pid=new_calls, calls=True)
                answered = await _answer(http, "[tokens=12] and again")
                assert answered["messages"][-1]["content"]
            assert not group_alive(before["worker-calls"])

            proc.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(proc.wait(), STOP_DEADLINE) == 0, str(output)
            assert [pid for pid in seen if group_alive(pid)] == []
        finally:
            kill_groups(list(seen))
