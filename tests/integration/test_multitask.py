"""Double texting on a busy thread, with real turns: reject, interrupt, rollback, enqueue;
and bulk cancel. A superseded run keeps or undoes its partial state like any stop."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from agents.demo_tools import count_tickets
from tests.stack import Stack

pytestmark = pytest.mark.integration


def _sdk(url: str) -> Any:
    return get_client(url=url)


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def _running(client: Any, thread: str, prompt: str) -> str:
    """A background run that has started streaming its answer."""
    run = await client.runs.create(thread, "agent", input=_user(prompt))
    async for part in client.runs.join_stream(thread, run["run_id"], stream_mode="messages-tuple"):
        if part.event == "messages":
            return str(run["run_id"])
    raise AssertionError("run ended before streaming")


async def test_reject_answers_409_and_leaves_the_running_turn_alone(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    first = await _running(client, thread, f"[tokens=300][pace=10] {marker}")
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        second = await http.post(
            f"/threads/{thread}/runs",
            json={"assistant_id": "agent", "input": _user("again"), "multitask_strategy": "reject"},
        )
    assert second.status_code == 409 and "already running" in second.json()["detail"]
    assert (await client.runs.get(thread, first))["status"] == "running"
    await client.runs.cancel(thread, first, wait=True)


async def test_interrupt_keeps_the_partial_answer_and_runs_the_new_message(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    first = await _running(client, thread, f"[tokens=2000][pace=10] {marker}")
    await client.runs.wait(
        thread,
        "agent",
        input=_user(f"[tokens=3] actually {marker}"),
        multitask_strategy="interrupt",
    )
    assert (await client.runs.get(thread, first))["status"] == "interrupted"
    messages = (await client.threads.get_state(thread))["values"]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "human", "ai"]
    assert messages[1]["response_metadata"]["stopped"] is True
    [first_call, second_call] = await stack.model_calls_closed(marker)
    assert first_call["disconnected"] is True and second_call["status"] == 200


async def test_rollback_strategy_undoes_the_superseded_turn(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    tickets = count_tickets(stack.data_dir)
    args = json.dumps({"title": f"dup {marker}"})
    first = await client.runs.create(
        thread, "agent",
        input=_user(f'[tool=create_ticket {args}][tool=generate_report {{"topic": "t"}}] {marker}'),
    )  # fmt: skip
    async for part in client.runs.join_stream(thread, first["run_id"], stream_mode="custom"):
        if part.event == "custom":
            break  # the report is running; the ticket exists
    await client.runs.wait(
        thread,
        "agent",
        input=_user(f"[tokens=3] never mind {marker}"),
        multitask_strategy="rollback",
    )
    assert count_tickets(stack.data_dir) == tickets
    messages = (await client.threads.get_state(thread))["values"]["messages"]
    assert [m["content"] for m in messages if m["type"] == "human"] == [
        f"[tokens=3] never mind {marker}"
    ]


async def test_enqueue_runs_the_second_message_after_the_first(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    first = await _running(client, thread, f"[tokens=40][pace=10] first {marker}")
    second = await client.runs.create(
        thread, "agent", input=_user(f"[tokens=3] second {marker}"), multitask_strategy="enqueue"
    )
    assert second["status"] == "pending"
    await client.runs.join(thread, second["run_id"])
    assert (await client.runs.get(thread, first))["status"] == "success"
    assert (await client.runs.get(thread, second["run_id"]))["status"] == "success"
    calls = stack.model_calls(marker)
    assert calls[0]["end"] <= calls[1]["start"]  # one turn at a time on a thread
    human = [m["content"] for m in calls[1]["messages"] if m["role"] == "user"]
    assert human == [f"[tokens=40][pace=10] first {marker}", f"[tokens=3] second {marker}"]


async def test_bulk_cancel_stops_every_run_of_a_thread(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    run = await _running(client, thread, f"[tokens=2000][pace=10] {marker}")
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        response = await http.post("/runs/cancel", json={"thread_id": thread})
    assert response.status_code == 200 and response.json() == {"cancelled": [run]}
    await client.runs.join(thread, run)
    assert (await client.runs.get(thread, run))["status"] == "interrupted"
    [call] = await stack.model_calls_closed(marker)
    assert call["disconnected"] is True
