"""Nothing lost on a deploy or a crash, tried as an operator would: workers are real processes
that get SIGINT (the graceful shutdown of every rolling deploy) or SIGKILL (a crash) in the
middle of an answer or a tool, while clients stream and stop through the real API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.asgi import serve_app
from devstack.scripted_model.runner import RunningScriptedModel
from tests.agents_for_tests import undo_lines
from tests.fixtures.eventually import eventually
from tests.fixtures.nats import NatsServer, settings_for
from tests.integration.worker_process import worker_process
from tests.stack import stack_settings

pytestmark = pytest.mark.integration

HEARTBEAT_TIMEOUT = 4.0
"""Short, so a killed worker's calls are retried (or given up on) within seconds."""


@dataclass
class Faults:
    settings: Settings
    api_url: str
    env: WorkflowEnvironment
    model: RunningScriptedModel
    data_dir: Path

    def worker(self, name: str) -> Any:
        return worker_process(self.env.client, self.settings, self.data_dir / f"{name}.log")

    def calls(self, marker: str) -> list[dict[str, Any]]:
        return self.model.request_log.snapshot(contains=marker)


@pytest_asyncio.fixture
async def faults(
    dev_server: WorkflowEnvironment,
    scripted_model: RunningScriptedModel,
    nats_server: NatsServer,
    tmp_path: Path,
) -> AsyncIterator[Faults]:
    from api.app import create_app

    settings = stack_settings(
        tmp_path, scripted_model, dev_server.client, settings_for(nats_server.url)
    )
    settings = settings.model_copy(
        update={
            "heartbeat": settings.heartbeat.model_copy(
                update={"timeout_seconds": HEARTBEAT_TIMEOUT}
            ),
            "graphs": {**settings.graphs, "undo_agent": "tests.agents_for_tests:undo_agent"},
        }
    )
    app = create_app(settings, temporal_client=dev_server.client)
    api = await serve_app(app, name="api")
    try:
        yield Faults(settings, api.url, dev_server, scripted_model, tmp_path)
    finally:
        await api.stop()


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _text(part: Any) -> str:
    chunk = part.data[0]
    return chunk["content"] if chunk.get("type") == "AIMessageChunk" else ""


async def test_a_graceful_worker_shutdown_mid_answer_is_not_a_stop(
    faults: Faults, marker: str
) -> None:
    """SIGINT (a deploy) fails the call back to Temporal; another worker answers in full,
    and the client's stream carries on through it (a reset, then the whole answer)."""
    client = get_client(url=faults.api_url)
    thread = (await client.threads.create())["thread_id"]
    async with faults.worker("a") as first:
        stream = client.runs.stream(
            thread, "agent", input=_user(f"[tokens=120][pace=20] {marker}"),
            stream_mode=["messages-tuple", "custom"],
        )  # fmt: skip
        parts = []
        async for part in stream:
            parts.append(part)
            if sum(bool(_text(p)) for p in parts if p.event == "messages") == 20:
                break
        assert await first.shut_down() == 0, first.output()
        async with faults.worker("b"):
            parts += [part async for part in stream]
    end = parts[-1]
    assert end.event == "end" and end.data["status"] == "success", end.data
    resets = [
        i for i, p in enumerate(parts) if p.event == "custom" and p.data["type"] == "chatstop.reset"
    ]
    assert len(resets) == 1
    after = "".join(_text(p) for p in parts[resets[0] :] if p.event == "messages")
    state: Any = await client.threads.get_state(thread)
    answer = state["values"]["messages"][-1]
    assert len(answer["content"].split()) == 120 and after == answer["content"]
    assert answer["response_metadata"].get("stopped") is None
    calls = faults.calls(marker)
    assert [c["disconnected"] for c in calls] == [True, False]


async def test_stop_while_the_worker_is_dead_keeps_what_the_client_saw(
    faults: Faults, marker: str
) -> None:
    client = get_client(url=faults.api_url)
    thread = (await client.threads.create())["thread_id"]
    seen: list[str] = []
    async with faults.worker("a") as first:
        run_id = ""
        async for part in client.runs.stream(
            thread, "agent", input=_user(f"[tokens=400][pace=20] {marker}"),
            stream_mode=["messages-tuple"],
        ):  # fmt: skip
            run_id = part.data["run_id"] if part.event == "metadata" else run_id
            seen += [_text(part)] if part.event == "messages" and _text(part) else []
            if len(seen) == 30:
                break
        await first.kill()
    await client.runs.cancel(thread, run_id, action="interrupt")
    async with faults.worker("b"):
        run = await client.runs.join(thread, run_id)
        record = await client.runs.get(thread, run_id)
    assert record["status"] == "interrupted", record
    state: Any = await client.threads.get_state(thread)
    kept = state["values"]["messages"][-1]
    assert kept["type"] == "ai" and kept["response_metadata"]["stopped"] is True
    # Everything the client saw is kept (a few more tokens may have been on their way).
    assert kept["content"].startswith("".join(seen)), (kept["content"], seen)
    assert run is not None


async def test_rollback_undoes_a_tool_whose_worker_died_mid_call(
    faults: Faults, marker: str
) -> None:
    client = get_client(url=faults.api_url)
    thread = (await client.threads.create())["thread_id"]
    label = f"side-effect-{marker}"
    prompt = f"[tool=record_then_wait {json.dumps({'label': label, 'seconds': 120})}] {marker}"
    async with faults.worker("a") as first:
        run = await client.runs.create(thread, "undo_agent", input=_user(prompt))
        await eventually(
            lambda: f"do {label}" in undo_lines(faults.data_dir), within=30, what="the tool acted"
        )
        await first.kill()
    await client.runs.cancel(thread, run["run_id"], action="rollback")
    async with faults.worker("b"):
        await client.runs.join(thread, run["run_id"])
        record: Any = await client.runs.get(thread, run["run_id"])
    assert record["outcome"]["outcome"] == "rolled_back", record["outcome"]
    assert f"undo {label}" in undo_lines(faults.data_dir)
    state: Any = await client.threads.get_state(thread)
    assert state["values"]["messages"] == []


async def test_tool_progress_after_a_worker_crash_starts_over_after_a_reset(
    faults: Faults, marker: str
) -> None:
    client = get_client(url=faults.api_url)
    thread = (await client.threads.create())["thread_id"]
    prompt = f'[tool=generate_report {{"topic": "t", "seconds": 3}}][tokens=3] {marker}'
    parts: list[Any] = []
    async with faults.worker("a") as first:
        stream = client.runs.stream(
            thread, "agent", input=_user(prompt), stream_mode=["custom"], stream_resumable=True
        )
        async for part in stream:
            parts.append(part)
            if part.event == "custom" and part.data.get("type") == "chatstop.tool":
                break
        await first.kill()
    async with faults.worker("b"):
        parts += [part async for part in stream]
    custom = [p.data for p in parts if p.event == "custom"]
    reset = next(i for i, c in enumerate(custom) if c["type"] == "chatstop.reset")
    assert custom[reset]["tool_call_id"] and custom[reset]["attempt"] == 2
    after = [c["progress"] for c in custom[reset + 1 :] if c["type"] == "chatstop.tool"]
    assert after[0] == "t: section 1/3 written" and len(after) == 3
    assert parts[-1].event == "end" and parts[-1].data["status"] == "success"
