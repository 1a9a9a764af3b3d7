"""The user journey over real HTTP with the official langgraph-sdk client: a thread, a
streamed run that calls search_docs and answers, the thread state, and a second turn."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.stack import Stack

pytestmark = pytest.mark.e2e


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_sdk_streams_a_run_that_calls_a_tool(stack: Stack, marker: str) -> None:
    client = get_client(url=stack.api_url)
    thread = await client.threads.create()
    prompt = f'[tool=search_docs {{"query": "stop"}}][tokens=60] {marker}'
    parts = [
        part
        async for part in client.runs.stream(
            thread["thread_id"],
            "agent",
            input=_user(prompt),
            stream_mode=["messages-tuple", "updates", "values"],
        )
    ]
    events = [p.event for p in parts]
    assert events[0] == "metadata" and events[-1] == "end"
    assert parts[-1].data["status"] == "success"
    tokens = [p for p in parts if p.event == "messages" and p.data[0]["type"] == "AIMessageChunk"]
    assert len(tokens) >= 60  # token by token, all before the end event
    chunk, meta = tokens[-1].data
    assert chunk["type"] == "AIMessageChunk" and meta["langgraph_node"] == "model"
    tool_updates = [p.data["tools"] for p in parts if p.event == "updates" and "tools" in p.data]
    assert tool_updates[0]["messages"][0]["name"] == "search_docs"
    assert "Stop cancels the turn" in tool_updates[0]["messages"][0]["content"]

    state: Any = await client.threads.get_state(thread["thread_id"])
    messages = state["values"]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[0]["content"] == prompt
    assert messages[1]["tool_calls"][0]["name"] == "search_docs"
    assert messages[3]["content"].startswith("Using 1 tool results")
    streamed = "".join(p.data[0]["content"] for p in tokens)
    assert streamed == messages[3]["content"]
    run = (await client.runs.list(thread["thread_id"]))[0]
    assert run["status"] == "success"
    assert (await client.threads.get(thread["thread_id"]))["status"] == "idle"


async def test_second_turn_on_the_thread_sees_the_first(stack: Stack, marker: str) -> None:
    client = get_client(url=stack.api_url)
    thread = await client.threads.create()
    for text in (f"[tokens=5] one {marker}", f"[tokens=5] two {marker}"):
        await client.runs.wait(thread["thread_id"], "agent", input=_user(text))
    second_call = stack.model_calls(marker)[-1]
    contents = [m["content"] for m in second_call["messages"] if m["role"] != "system"]
    assert contents[0] == f"[tokens=5] one {marker}" and contents[-1] == f"[tokens=5] two {marker}"
    assert len(contents) == 3
    state: Any = await client.threads.get_state(thread["thread_id"])
    assert len(state["values"]["messages"]) == 4


async def test_model_failure_ends_the_run_with_error_event(stack: Stack, marker: str) -> None:
    client = get_client(url=stack.api_url)
    thread = await client.threads.create()
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"], "agent", input=_user(f"[fail=503] {marker}")
        )
    ]
    errors = [p for p in parts if p.event == "error"]
    assert errors and "HTTP 503" in errors[0].data["message"]
    runs = await client.runs.list(thread["thread_id"])
    assert runs[0]["status"] == "error"
    assert (await client.threads.get(thread["thread_id"]))["status"] == "error"
    # ... and the thread stays usable.
    await client.runs.wait(thread["thread_id"], "agent", input=_user(f"[tokens=3] ok {marker}"))
    assert (await client.runs.list(thread["thread_id"]))[0]["status"] == "success"


async def test_bad_input_gets_4xx_with_detail(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        missing = await http.get("/threads/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and "not found" in missing.json()["detail"].lower()
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        no_assistant = await http.post(
            f"/threads/{thread}/runs", json={"assistant_id": "nope", "input": _user("hi")}
        )
        assert no_assistant.status_code == 404 and "nope" in no_assistant.json()["detail"]
        malformed = await http.post(
            f"/threads/{thread}/runs",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert malformed.status_code == 422 and malformed.json()["detail"]
        no_input = await http.post(
            f"/threads/{thread}/runs", json={"assistant_id": "agent", "input": {"messages": []}}
        )
        assert no_input.status_code == 422 and no_input.json()["detail"]
        unknown_run = await http.get(f"/threads/{thread}/runs/{thread}")
        assert unknown_run.status_code == 404 and unknown_run.json()["detail"]
        assert (await http.get("/ok")).json() == {"ok": True}
        assert "openapi" in (await http.get("/openapi.json")).json()
        page = await http.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
    assert json.dumps(missing.json())  # detail bodies are JSON, never tracebacks
