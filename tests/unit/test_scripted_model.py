"""The scripted model, exercised over real loopback HTTP with httpx and with ChatOpenAI.

Every test tags its request with a unique marker and reads its own log entries back through
``/_scripted/log?contains=MARKER``, so tests sharing the module's server cannot interfere.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from devstack.scripted_model import scripted_model
from devstack.scripted_model.directives import WORDS, DirectiveError, parse_directives
from devstack.scripted_model.runner import RunningScriptedModel
from tests.fixtures.eventually import eventually
from tests.fixtures.scripted import chat_model, search_docs


@pytest_asyncio.fixture(loop_scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as http:
        yield http


def marker() -> str:
    return f"marker-{uuid.uuid4().hex}"


def expected_text(count: int) -> str:
    return "".join(f"{WORDS[i % len(WORDS)]} " for i in range(count))


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def body(messages: list[dict[str, Any]], *, stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {"model": "scripted-test", "messages": messages, "stream": stream, **extra}


def sse_payloads(text: str) -> list[Any]:
    """Decode an SSE body into its ``data:`` payloads (``"[DONE]"`` kept as a string)."""
    frames = [frame for frame in text.split("\n\n") if frame]
    assert all(frame.startswith("data: ") for frame in frames), frames
    return [frame[6:] if frame[6:] == "[DONE]" else json.loads(frame[6:]) for frame in frames]


def content_deltas(payloads: list[Any]) -> list[str]:
    return [
        p["choices"][0]["delta"]["content"]
        for p in payloads[:-1]
        if p["choices"] and p["choices"][0]["delta"].get("content")
    ]


async def log_entries(
    client: httpx.AsyncClient, model: RunningScriptedModel, needle: str
) -> list[dict[str, Any]]:
    response = await client.get(f"{model.root_url}/_scripted/log", params={"contains": needle})
    assert response.status_code == 200
    entries: list[dict[str, Any]] = response.json()
    return entries


async def only_entry(
    client: httpx.AsyncClient, model: RunningScriptedModel, needle: str
) -> dict[str, Any]:
    entries = await log_entries(client, model, needle)
    assert len(entries) == 1, entries
    return entries[0]


async def post(
    client: httpx.AsyncClient, model: RunningScriptedModel, payload: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{model.base_url}/chat/completions", json=payload)


async def test_stream_sends_exactly_n_tokens_then_done(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    payload = body([user(f"{tag} [tokens=7] [pace=1]")], stream_options={"include_usage": True})
    response = await post(client, model, payload)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    assert payloads[0]["object"] == "chat.completion.chunk"
    assert payloads[0]["choices"][0]["delta"]["role"] == "assistant"
    assert content_deltas(payloads) == [f"{w} " for w in WORDS[:7]]
    finish = [p["choices"][0]["finish_reason"] for p in payloads[:-1] if p["choices"]]
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    usage_chunk = payloads[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 7
    assert usage_chunk["usage"]["total_tokens"] == usage_chunk["usage"]["prompt_tokens"] + 7

    entry = await only_entry(client, model, tag)
    assert (entry["tokens"], entry["disconnected"], entry["status"]) == (7, False, 200)
    assert entry["stream"] is True and entry["reply"] == "text"
    assert entry["end"] is not None and len(entry["token_times"]) == 7


async def test_pace_spaces_tokens_and_first_token_is_immediate(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    response = await post(client, model, body([user(f"{tag} [tokens=4] [pace=100]")]))
    assert response.status_code == 200

    entry = await only_entry(client, model, tag)
    times = entry["token_times"]
    assert len(times) == 4
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.1 * 0.8, gaps
    assert times[0] - entry["start"] < 0.1, "the first token must not wait for the pace"


async def test_tool_directives_become_parallel_tool_calls(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    prompt = f'{tag} [tool=search_docs {{"query": "a]b"}}] then [tool=generate_report]'
    response = await post(client, model, body([user(prompt)]))

    payloads = sse_payloads(response.text)
    calls = [
        call
        for p in payloads[:-1]
        if p["choices"]
        for call in p["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert [call["index"] for call in calls] == [0, 1]
    assert [call["function"]["name"] for call in calls] == ["search_docs", "generate_report"]
    assert [json.loads(call["function"]["arguments"]) for call in calls] == [{"query": "a]b"}, {}]
    assert len({call["id"] for call in calls}) == 2
    assert content_deltas(payloads) == []
    assert payloads[-2]["choices"][0]["finish_reason"] == "tool_calls"

    entry = await only_entry(client, model, tag)
    assert entry["reply"] == "tool_calls"
    assert entry["tool_calls"] == ["search_docs", "generate_report"]
    assert entry["tokens"] == 0


async def test_tool_call_ids_are_unique_across_requests(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    payload = body([user(f"{tag} [tool=search_docs]")], stream=False)
    first, second = [await post(client, model, payload) for _ in range(2)]
    ids = [r.json()["choices"][0]["message"]["tool_calls"][0]["id"] for r in (first, second)]
    assert ids[0] != ids[1]


async def test_tool_results_after_last_user_message_get_a_text_answer(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    messages = [
        user(f"{tag} [tokens=5] [pace=0] [tool=search_docs {{}}] [tool=generate_report]"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "x", "arguments": "{}"}},
                {"id": "call_b", "type": "function", "function": {"name": "y", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "docs"},
        {"role": "tool", "tool_call_id": "call_b", "content": "report"},
    ]
    response = await post(client, model, body(messages))

    assert response.status_code == 200
    tokens = content_deltas(sse_payloads(response.text))
    assert len(tokens) == 5
    assert "2" in tokens[0]
    assert tokens[1:] == [f"{w} " for w in WORDS[1:5]]
    entry = await only_entry(client, model, tag)
    assert (entry["reply"], entry["tool_results"], entry["tokens"]) == ("text", 2, 5)


async def test_unanswered_tool_call_is_rejected_like_openai(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    messages = [
        user(tag),
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_ok", "type": "function", "function": {"name": "x", "arguments": "{}"}},
                {
                    "id": "call_lost",
                    "type": "function",
                    "function": {"name": "y", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_ok", "content": "fine"},
        user("next question"),
    ]
    response = await post(client, model, body(messages))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "must be followed by tool messages" in error["message"]
    assert error["message"].endswith("did not have response messages: call_lost")
    entry = await only_entry(client, model, tag)
    assert (entry["status"], entry["reply"]) == (400, "error")


async def test_orphan_tool_message_is_rejected(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    messages = [user(marker()), {"role": "tool", "tool_call_id": "call_nobody", "content": "?"}]
    response = await post(client, model, body(messages))
    assert response.status_code == 400
    assert "call_nobody" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"model": "m"}', b'{"model": "m", "messages": []}'],
)
async def test_invalid_bodies_get_400(
    model: RunningScriptedModel, client: httpx.AsyncClient, raw: bytes
) -> None:
    response = await client.post(f"{model.base_url}/chat/completions", content=raw)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_malformed_directive_gets_400(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    response = await post(client, model, body([user(f"{marker()} [tool=x {{not json}}]")]))
    assert response.status_code == 400
    assert "directive" in response.json()["error"]["message"]


async def test_fail_directive_returns_that_status_with_openai_error_body(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    response = await post(client, model, body([user(f"{tag} [fail=503]")]))

    assert response.status_code == 503
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "scripted failure 503" in error["message"]
    entry = await only_entry(client, model, tag)
    assert (entry["status"], entry["reply"], entry["tokens"]) == (503, "error", 0)


async def test_cut_once_breaks_only_the_first_stream_of_a_conversation(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    payload = body([user(f"{tag} [cut_once=3][tokens=6]")])
    with pytest.raises(httpx.RemoteProtocolError):
        await post(client, model, payload)
    retried = await post(client, model, payload)

    assert retried.status_code == 200
    assert "".join(content_deltas(sse_payloads(retried.text))) == expected_text(6)
    entries = await log_entries(client, model, tag)
    assert [(e["tokens"], e["disconnected"]) for e in entries] == [(3, False), (6, False)]


async def test_stall_keeps_the_stream_open_and_silent_after_k_tokens(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    url = f"{model.base_url}/chat/completions"
    deltas: list[str] = []
    async with client.stream("POST", url, json=body([user(f"{tag} [stall=2][tokens=6]")])) as r:
        async for line in r.aiter_lines():
            if line.startswith("data: {"):
                delta = json.loads(line[len("data: ") :])["choices"][0]["delta"]
                deltas += [delta["content"]] if delta.get("content") else []
            if len(deltas) == 2:
                break  # nothing more would come: the client hangs up, as a stall watch does
    assert "".join(deltas) == expected_text(2)

    async def ended() -> dict[str, Any] | None:
        entry = await only_entry(client, model, tag)
        return entry if entry["end"] is not None else None

    entry = await eventually(ended, within=10, what="the model saw the hang-up")
    assert (entry["tokens"], entry["disconnected"]) == (2, True)


async def test_non_streaming_reply_is_a_chat_completion(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    parts = [{"type": "text", "text": f"{tag} [tokens=9]"}, {"type": "text", "text": "[pace=0]"}]
    response = await post(client, model, body([user(parts)], stream=False))

    assert response.status_code == 200
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["model"] == "scripted-test"
    choice = completion["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == expected_text(9)
    assert choice["finish_reason"] == "stop"
    assert completion["usage"]["completion_tokens"] == 9
    entry = await only_entry(client, model, tag)
    assert (entry["stream"], entry["tokens"]) == (False, 9)


async def test_client_disconnect_mid_stream_is_noticed_while_sleeping(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    # A long pace: the hang-up lands while the server sleeps between tokens.
    payload = body([user(f"{tag} [tokens=200] [pace=1000]")])
    async with client.stream("POST", f"{model.base_url}/chat/completions", json=payload) as stream:
        async for line in stream.aiter_lines():
            if '"content":"' in line and '"content":""' not in line:
                break  # the first token; the second is a whole second away
    closed_at = time.time()

    deadline = time.monotonic() + 5.0
    entry = await only_entry(client, model, tag)
    while entry["end"] is None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        entry = await only_entry(client, model, tag)
    assert entry["end"] is not None, "the server never noticed the disconnect"
    assert entry["disconnected"] is True
    assert entry["tokens"] == 1
    # Well under the 1 s pace: noticed without waiting for the next token write.
    assert entry["end"] - closed_at < 0.5, entry["end"] - closed_at


async def test_twenty_five_concurrent_streams(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    tag = marker()
    payload = body([user(f"{tag} [tokens=10] [pace=50]")])
    started = time.monotonic()
    responses = await asyncio.gather(*(post(client, model, payload) for _ in range(25)))
    elapsed = time.monotonic() - started

    assert all(len(content_deltas(sse_payloads(r.text))) == 10 for r in responses)
    assert elapsed < 3.0, f"streams were serialised ({elapsed:.2f}s; serial would be ~11s)"
    entries = await log_entries(client, model, tag)
    assert len(entries) == 25 and {e["tokens"] for e in entries} == {10}


async def test_chat_openai_streaming_gets_the_text(model: RunningScriptedModel) -> None:
    llm = chat_model(model)
    tag = marker()
    pieces = [chunk.content async for chunk in llm.astream(f"{tag} [tokens=6] [pace=0]")]
    assert "".join(str(piece) for piece in pieces) == expected_text(6)
    result = await llm.ainvoke(f"{marker()} [tokens=3] [pace=0]")
    assert result.content == expected_text(3)


@tool
def generate_report(topic: str, seconds: int) -> str:
    """Generate a report."""
    return f"report on {topic}"


async def test_chat_openai_with_tools_round_trip(
    model: RunningScriptedModel, client: httpx.AsyncClient
) -> None:
    llm = chat_model(model).bind_tools([search_docs, generate_report])
    tag = marker()
    question = HumanMessage(
        f'{tag} [tokens=4] [pace=0] [tool=search_docs {{"query": "temporal"}}] '
        f'[tool=generate_report {{"topic": "x", "seconds": 3}}]'
    )

    first = await llm.ainvoke([question])
    assert isinstance(first, AIMessage)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("search_docs", {"query": "temporal"}),
        ("generate_report", {"topic": "x", "seconds": 3}),
    ]
    results = [ToolMessage("result", tool_call_id=str(c["id"])) for c in first.tool_calls]
    second = await llm.ainvoke([question, first, *results])
    assert second.tool_calls == []
    assert str(second.content).startswith("Using 2 tool results")
    assert [e["reply"] for e in await log_entries(client, model, tag)] == ["tool_calls", "text"]


async def test_contains_filter_and_clear_on_a_fresh_server(client: httpx.AsyncClient) -> None:
    async with scripted_model() as fresh:
        for tag in ("alpha-tag", "beta-tag", "alpha-tag again"):
            await post(client, fresh, body([user(f"{tag} [tokens=1]")], stream=False))
        log_url = f"{fresh.root_url}/_scripted/log"

        everything = (await client.get(log_url)).json()
        assert [e["seq"] for e in everything] == [1, 2, 3]
        alpha = (await client.get(log_url, params={"contains": "alpha-tag"})).json()
        assert [e["seq"] for e in alpha] == [1, 3]
        assert (await client.get(log_url, params={"contains": "gamma"})).json() == []

        assert (await client.delete(log_url)).status_code == 200
        assert (await client.get(log_url)).json() == []
        health = await client.get(f"{fresh.root_url}/healthz")
        assert health.json() == {"ok": True}
        models = (await client.get(f"{fresh.base_url}/models")).json()
        assert {m["id"] for m in models["data"]} == {"scripted", "scripted-test"}


def test_parse_directives_defaults_and_values() -> None:
    assert parse_directives("plain question").tokens == 60
    assert parse_directives("plain question").pace_ms == 20.0
    parsed = parse_directives('[tokens=3][pace=2.5][fail=429][tool=a {"x": [1, "]"]}][tool=b]')
    assert (parsed.tokens, parsed.pace_ms, parsed.fail_status) == (3, 2.5, 429)
    assert [(t.name, t.args) for t in parsed.tools] == [("a", {"x": [1, "]"]}), ("b", {})]


@pytest.mark.parametrize(
    "text", ["[tokens=many]", "[pace=-1]", "[fail=200]", "[tool=a [1]]", "[tool=a {} x]"]
)
def test_parse_directives_rejects_malformed(text: str) -> None:
    with pytest.raises(DirectiveError):
        parse_directives(text)
