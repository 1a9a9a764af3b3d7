"""Stop over HTTP with the official langgraph-sdk client, on the real dev server: the
upstream model stream is closed, the thread goes on, rollback undoes, history records it."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from temporalio.api.enums.v1 import EventType
from temporalio.converter import default as default_converter

from agents.demo_tools import count_tickets
from api.stop_notices import StopNotices
from core.contracts import StopRequest, turn_workflow_id
from core.temporal import venv_binary
from tests.stack import Stack
from tests.support import history_activity_names

pytestmark = pytest.mark.integration


def _sdk(url: str, **kwargs: Any) -> Any:
    """The official client; typed Any because its stubs say runs.cancel returns None, while
    it returns the server's JSON (the run with its outcome)."""
    return get_client(url=url, **kwargs)


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _tool(name: str, **args: object) -> str:
    return f"[tool={name} {json.dumps(args)}]"


async def _stream_until(client: Any, thread_id: str, prompt: str, ready: Any, modes: list[str]):
    """Start a streamed run; returns (run_id future, task collecting all parts)."""
    run_id: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    reached = asyncio.Event()
    parts: list[Any] = []

    async def consume() -> list[Any]:
        async for part in client.runs.stream(
            thread_id, "agent", input=_user(prompt), stream_mode=modes
        ):
            parts.append(part)
            if part.event == "metadata":
                run_id.set_result(part.data["run_id"])
            if ready(parts):
                reached.set()
        return parts

    task = asyncio.create_task(consume())
    await asyncio.wait_for(reached.wait(), 30)
    return await run_id, task


def _tokens(parts: list[Any]) -> int:
    return sum(p.event == "messages" for p in parts)


async def test_stop_closes_the_upstream_stream_and_keeps_the_partial_answer(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url, headers={"x-user-id": "alice"})
    thread = (await client.threads.create())["thread_id"]
    run_id, stream = await _stream_until(
        client,
        thread,
        f"[tokens=2000][pace=10] {marker}",
        lambda p: _tokens(p) >= 10,
        ["messages-tuple"],
    )
    stopped = await client.runs.cancel(thread, run_id, wait=True, action="interrupt")
    parts = await asyncio.wait_for(stream, 30)

    assert stopped["status"] == "interrupted" and stopped["outcome"]["outcome"] == "interrupted"
    assert stopped["outcome"]["stop"]["actor"] == "alice"
    [call] = await stack.model_calls_closed(marker)
    assert call["disconnected"] is True and call["tokens"] < 2000  # billing stopped
    assert parts[-1].event == "end" and parts[-1].data["outcome"] == "interrupted"
    state = await client.threads.get_state(thread)
    answer = state["values"]["messages"][-1]
    assert answer["type"] == "ai" and answer["response_metadata"]["stopped"] is True
    streamed = "".join(p.data[0]["content"] for p in parts if p.event == "messages")
    assert answer["content"].startswith(streamed[: len(answer["content"]) // 2])
    assert (await client.runs.get(thread, run_id))["status"] == "interrupted"
    assert (await client.threads.get(thread))["status"] == "idle"


async def test_a_stop_whose_cancel_never_left_the_dying_api_still_ends_the_run_as_stopped(
    stack: Stack, marker: str
) -> None:
    """The API's first two steps of a stop (claim it in the run's record, send the notice),
    then nothing: it died before Temporal had the cancel. The turn adopts the recorded stop
    (after waiting 10 s for the cancel), the run ends interrupted and the thread goes on."""
    client = _sdk(stack.api_url, headers={"x-user-id": "alice"})
    thread = (await client.threads.create())["thread_id"]
    run_id, stream = await _stream_until(
        client, thread, f"[tokens=2000][pace=10] {marker}", lambda p: _tokens(p) >= 10,
        ["messages-tuple"],
    )  # fmt: skip
    stop = StopRequest(action="interrupt", actor="alice", reason="the API died right after")
    claimed = await stack.stores.records.claim_first_stop(thread, run_id, "alice", asdict(stop))
    assert claimed is not None
    await StopNotices(stack.stores.broker).announce([run_id], stop)
    parts = await asyncio.wait_for(stream, 60)

    [call] = await stack.model_calls_closed(marker)
    assert call["disconnected"] is True and call["tokens"] < 2000
    assert parts[-1].event == "end" and parts[-1].data["outcome"] == "interrupted"
    run = await client.runs.get(thread, run_id)
    assert run["status"] == "interrupted"
    answer = (await client.threads.get_state(thread))["values"]["messages"][-1]
    assert answer["response_metadata"]["stopped_by"] == "alice"
    await client.runs.wait(thread, "agent", input=_user(f"[tokens=4] go on {marker}"))
    assert (await client.runs.list(thread))[0]["status"] == "success"


async def test_follow_up_message_after_a_stop_during_a_tool_succeeds(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    prompt = f"{_tool('generate_report', topic='churn', seconds=30)} {marker}"
    run_id, stream = await _stream_until(
        client, thread, prompt, lambda p: any(x.event == "custom" for x in p), ["custom", "updates"]
    )
    stopped = await client.runs.cancel(thread, run_id, wait=True)
    await asyncio.wait_for(stream, 30)
    assert any("generate_report" in k and "stopped" in k for k in stopped["outcome"]["kept"])

    await client.runs.wait(thread, "agent", input=_user(f"[tokens=4] and now? {marker}"))
    assert (await client.runs.list(thread))[0]["status"] == "success"
    last_call = stack.model_calls(marker)[-1]
    assert last_call["status"] == 200  # the model got a valid history: no dangling tool call
    tool_reply = [m for m in last_call["messages"] if m["role"] == "tool"][0]
    assert tool_reply["content"].startswith("stopped while running")


async def test_rollback_over_http_deletes_the_ticket_and_restores_the_thread(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    await client.runs.wait(thread, "agent", input=_user(f"[tokens=3] hello {marker}"))
    before = (await client.threads.get_state(thread))["values"]["messages"]
    tickets_before = count_tickets(stack.data_dir)
    prompt = (
        f"{_tool('create_ticket', title='refund ' + marker)}"
        f"{_tool('generate_report', topic='r', seconds=30)} {marker}"
    )
    run_id, stream = await _stream_until(
        client, thread, prompt, lambda p: any(x.event == "custom" for x in p), ["custom"]
    )
    assert count_tickets(stack.data_dir) == tickets_before + 1
    stopped = await client.runs.cancel(thread, run_id, wait=True, action="rollback")
    parts = await asyncio.wait_for(stream, 30)

    assert stopped["outcome"]["outcome"] == "rolled_back"
    assert "deleted ticket" in stopped["outcome"]["undone"][0]
    assert parts[-1].event == "end" and parts[-1].data["outcome"] == "rolled_back"
    assert count_tickets(stack.data_dir) == tickets_before
    assert (await client.threads.get_state(thread))["values"]["messages"] == before


async def test_stopping_a_finished_run_is_409(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread, "agent", input=_user(f"[tokens=2] {marker}"))
    await client.runs.join(thread, run["run_id"])
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        response = await http.post(f"/threads/{thread}/runs/{run['run_id']}/cancel")
    assert response.status_code == 409
    assert "success" in response.json()["detail"]


async def test_history_and_search_attributes_record_the_stop(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url, headers={"x-user-id": "bob"})
    thread = (await client.threads.create())["thread_id"]
    run_id, stream = await _stream_until(
        client,
        thread,
        f"[tokens=2000][pace=10] {marker}",
        lambda p: _tokens(p) >= 3,
        ["messages-tuple"],
    )
    await client.runs.cancel(thread, run_id, wait=True, action="interrupt")
    await stream
    handle = stack.client.get_workflow_handle(turn_workflow_id(thread, run_id))
    history = [e async for e in handle.fetch_history_events()]
    cancel = next(
        e
        for e in history
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
    )
    reason = json.loads(cancel.workflow_execution_cancel_requested_event_attributes.cause)
    assert reason["actor"] == "bob" and reason["action"] == "interrupt"
    # The call stopped (on the broker's notice, which travels with the cancel, or on the
    # cancel itself), and after the stop only the finish was scheduled.
    after_stop = history[history.index(cancel) :]
    assert history_activity_names(after_stop) == ["finish_turn"]
    summaries = [
        default_converter().payload_converter.from_payload(e.user_metadata.summary, str)
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert "model scripted" in summaries or any(s.startswith("model ") for s in summaries)

    query = f'ThreadId="{thread}" AND TurnStatus="stopped" AND UserId="bob"'
    deadline = time.monotonic() + 15
    found: list[Any] = []
    while not found and time.monotonic() < deadline:
        found = [w async for w in stack.client.list_workflows(query)]
        if not found:
            await asyncio.sleep(0.1)
    assert [w.id for w in found] == [handle.id]


async def test_cancel_from_the_temporal_cli_behaves_like_interrupt(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    run_id, stream = await _stream_until(
        client,
        thread,
        f"[tokens=2000][pace=10] {marker}",
        lambda p: _tokens(p) >= 3,
        ["messages-tuple"],
    )
    cli = await asyncio.create_subprocess_exec(
        str(venv_binary("temporal")),
        "workflow",
        "cancel",
        "--address",
        stack.settings.temporal.address,
        "--workflow-id",
        turn_workflow_id(thread, run_id),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await cli.communicate()
    assert cli.returncode == 0, output
    parts = await asyncio.wait_for(stream, 30)
    end = parts[-1]
    assert end.event == "end" and end.data["outcome"] == "interrupted"
    assert end.data["stop"] == {
        "action": "interrupt",
        "actor": "temporal",
        "reason": "cancelled in Temporal",
    }
    [call] = await stack.model_calls_closed(marker)
    assert call["disconnected"] is True
