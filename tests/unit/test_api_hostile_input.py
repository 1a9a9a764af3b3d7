"""Hostile and malformed requests: each is refused with a status and a detail that names
the problem, before anything is started or stored, and never as a 500."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.unit.api_harness import Api


def run_body(*messages: Any, **fields: Any) -> dict[str, Any]:
    return {"assistant_id": "agent", "input": {"messages": list(messages)}, **fields}


def raw_json(text: str) -> dict[str, Any]:
    """A body sent as written (Python's JSON parser takes NaN; httpx would refuse to send)."""
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


async def assert_refused(api: Api, response: Any, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["detail"] == detail
    assert api.gateway.submitted == []


@pytest.mark.parametrize("text", [5, None, ["nested"]])
async def test_a_text_part_whose_text_is_not_a_string_is_422(api: Api, text: Any) -> None:
    thread_id = await api.new_thread()
    part = {"type": "text", "text": text}

    response = await api.http.post(
        f"/threads/{thread_id}/runs", json=run_body({"role": "user", "content": [part]})
    )

    await assert_refused(api, response, 422, "input.messages[0].content[0].text must be a string")


@pytest.mark.parametrize("field", ["metadata", "config"])
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_nan_or_infinity_in_a_run_is_422_and_nothing_starts(
    api: Api, field: str, number: str
) -> None:
    thread_id = await api.new_thread()
    body = json.dumps(run_body("hi"))[:-1] + f', "{field}": {{"x": [1, {number}]}}}}'

    response = await api.http.post(f"/threads/{thread_id}/runs", **raw_json(body))

    await assert_refused(
        api,
        response,
        422,
        f"Invalid request: body: Value error, body.{field}.x[1] is NaN or Infinity, which "
        "JSON does not allow",
    )
    assert await api.records.list_runs(thread_id) == []


async def test_an_integer_beyond_64_bits_anywhere_in_a_run_is_422(api: Api) -> None:
    """Python parses it; the worker's encoders (orjson, msgpack) would fail on it later."""
    thread_id = await api.new_thread()
    part = {"type": "image_url", "image_url": {"url": "x"}, "size": 2**64}
    message = {"role": "user", "content": [{"type": "text", "text": "hi"}, part]}

    response = await api.http.post(f"/threads/{thread_id}/runs", json=run_body(message))

    await assert_refused(
        api,
        response,
        422,
        "Invalid request: body: Value error, body.input.messages[0].content[1].size is an "
        "integer beyond 64 bits",
    )


async def test_a_non_text_part_with_a_non_string_text_is_422_not_a_crash(api: Api) -> None:
    thread_id = await api.new_thread()
    part = {"type": "reasoning", "text": {"not": "a string"}}

    response = await api.http.post(
        f"/threads/{thread_id}/runs", json=run_body({"role": "user", "content": [part]})
    )

    await assert_refused(api, response, 422, "input.messages[0].content[0].text must be a string")


async def test_nan_in_thread_metadata_is_422_not_stored_as_null(api: Api) -> None:
    response = await api.http.post("/threads", **raw_json('{"metadata": {"score": NaN}}'))

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Invalid request: body: Value error, body.metadata.score is NaN or Infinity, which "
        "JSON does not allow"
    )
    assert await api.records.list_threads("alice") == []


async def test_an_offset_past_any_integer_the_database_takes_is_422(api: Api) -> None:
    thread_id = await api.new_thread()

    response = await api.http.get(
        f"/threads/{thread_id}/runs", params={"offset": "99999999999999999999"}
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Invalid request: query.offset: Input should be less than or equal to 1000000000"
    )


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        ("/threads/search", {"offset": False}, "body.offset: Input should be a valid integer"),
        ("/threads/search", {"limit": "5"}, "body.limit: Input should be a valid integer"),
        ("/assistants/search", {"limit": 5.0}, "body.limit: Input should be a valid integer"),
        (
            "/threads/{thread}/runs",
            {**run_body("hi"), "stream_resumable": "yes"},
            "body.stream_resumable: Input should be a valid boolean",
        ),
    ],
)
async def test_json_fields_are_strict_about_their_types(
    api: Api, path: str, body: dict[str, Any], detail: str
) -> None:
    thread_id = await api.new_thread()

    response = await api.http.post(path.format(thread=thread_id), json=body)

    assert response.status_code == 422
    assert response.json()["detail"] == f"Invalid request: {detail}"
    assert api.gateway.submitted == []


async def test_a_5_mb_message_is_413_before_anything_starts(api: Api) -> None:
    thread_id = await api.new_thread()
    body = json.dumps(run_body("x" * 5_000_000)).encode()

    response = await api.http.post(
        f"/threads/{thread_id}/runs", content=body, headers={"content-type": "application/json"}
    )

    await assert_refused(
        api, response, 413, "Request body over 1000000 bytes (limits.max_body_bytes)"
    )


async def test_a_chunked_body_over_the_limit_is_413_too(api: Api) -> None:
    """No Content-Length: the limit is counted as the body arrives."""
    thread_id = await api.new_thread()
    body = json.dumps(run_body("x" * 2_000_000)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    response = await api.http.post(
        f"/threads/{thread_id}/runs",
        content=chunks(),
        headers={"content-type": "application/json"},
    )

    await assert_refused(
        api, response, 413, "Request body over 1000000 bytes (limits.max_body_bytes)"
    )


async def test_a_small_chunked_body_is_read_whole(api: Api) -> None:
    body = json.dumps({"metadata": {"k": "v"}}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:5]
        yield body[5:]

    response = await api.http.post(
        "/threads", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 200
    assert response.json()["metadata"] == {"k": "v"}


async def test_input_over_max_input_bytes_is_413_naming_the_limit(api: Api) -> None:
    thread_id = await api.new_thread()

    response = await api.http.post(f"/threads/{thread_id}/runs", json=run_body("x" * 300_000, "y"))

    assert response.status_code == 413
    assert re.fullmatch(
        r"input\.messages is 300\d{3} bytes; at most 256000 per run", response.json()["detail"]
    )
    assert api.gateway.submitted == []


async def test_more_input_messages_than_allowed_is_422(api: Api) -> None:
    thread_id = await api.new_thread()

    response = await api.http.post(f"/threads/{thread_id}/runs", json=run_body(*["hi"] * 101))

    await assert_refused(api, response, 422, "input.messages has 101 messages; at most 100 per run")


async def test_an_unknown_stream_mode_is_422_naming_it(api: Api) -> None:
    thread_id = await api.new_thread()

    response = await api.http.post(
        f"/threads/{thread_id}/runs/stream",
        json=run_body("hi", stream_mode=["values", "sparkles", "values,debug,glitter"]),
    )

    await assert_refused(
        api,
        response,
        422,
        "stream_mode 'sparkles', 'glitter' is not supported; supported: values, updates, "
        "messages-tuple, messages, custom, events, tasks, checkpoints, debug",
    )


async def test_an_input_id_the_thread_already_has_is_409_and_history_stays(api: Api) -> None:
    thread_id = await api.new_thread()
    history: list[dict[str, Any]] = [
        {"type": "human", "content": "weather?", "id": "h-1"},
        {
            "type": "ai",
            "content": "",
            "id": "ai-1",
            "tool_calls": [{"name": "weather", "args": {}, "id": "call-1"}],
        },
        {"type": "tool", "content": "sunny", "tool_call_id": "call-1", "id": "tool-1"},
    ]
    await api.thread_store.commit(thread_id, history)
    forged = {"role": "user", "content": "it rained", "id": "tool-1"}

    response = await api.http.post(f"/threads/{thread_id}/runs", json=run_body("ok", forged))

    await assert_refused(
        api,
        response,
        409,
        f"Message id 'tool-1' is already used in thread {thread_id}; an input message cannot "
        "replace one the thread has. Leave `id` out to get a fresh one.",
    )
    stored = await api.thread_store.messages(thread_id)
    assert [(m["id"], m["content"]) for m in stored][-1] == ("tool-1", "sunny")


async def test_an_input_id_used_twice_in_one_run_is_422(api: Api) -> None:
    thread_id = await api.new_thread()
    twice = [{"role": "user", "content": text, "id": "same"} for text in ("a", "b")]

    response = await api.http.post(f"/threads/{thread_id}/runs", json=run_body(*twice))

    await assert_refused(
        api,
        response,
        422,
        "input.messages[1].id 'same' repeats input.messages[0].id; each message needs its own id",
    )


async def test_a_deeply_nested_body_is_refused_not_a_crash(api: Api) -> None:
    nested = '{"metadata": {"k": ' + "[" * 100_000 + "]" * 100_000 + "}}"

    response = await api.http.post("/threads", **raw_json(nested))

    assert response.status_code == 400, response.text  # documented: could not be read
    assert response.json() == {"detail": "There was an error parsing the body"}
    assert await api.records.list_threads("alice") == []
