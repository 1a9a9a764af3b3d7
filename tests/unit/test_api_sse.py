"""A run's live events -> Agent Server SSE frames, per stream mode (SseMapper, no server).

The values expander reads a real ThreadStore, on LangGraph's in-memory checkpointer."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from api.sse import SseMapper, StreamContext, end_frame, error_frame, frame, metadata_frame
from api.values import ValuesExpander
from core.live import Live, encode, encode_json
from stores.thread_store import ThreadStore

TOKEN_BODY = (
    b'[{"type":"AIMessageChunk","content":"Hel","id":"ai-1"},'
    b'{"langgraph_node":"model","run_id":"r-1","thread_id":"t-1"}]'
)
END_DATA: dict[str, Any] = {
    "status": "interrupted",
    "outcome": "interrupted",
    "stop": {"action": "interrupt", "actor": "alice", "reason": "enough"},
    "kept": ["m-1"],
    "undone": [],
    "not_undone": [],
    "error": None,
}


@pytest.fixture
def thread_store() -> ThreadStore:
    return ThreadStore(InMemorySaver())


def mapper(store: ThreadStore, *modes: str, resumable: bool = False) -> SseMapper:
    ctx = StreamContext(
        run_id="r-1",
        thread_id="t-1",
        assistant_id="agent",
        stream_modes=frozenset(modes),
        resumable=resumable,
    )
    return SseMapper(ctx, ValuesExpander(store))


async def render(m: SseMapper, kind: Live | str, body: Any, seq: int = 7) -> bytes:
    payload = encode(kind, body) if isinstance(kind, Live) else kind.encode() + b"\n{}"
    text, _ = await m.render(payload, seq)
    return text


async def test_a_token_is_relayed_byte_for_byte(thread_store: ThreadStore) -> None:
    token = encode_json(Live.MESSAGES, TOKEN_BODY)
    text, ended = await mapper(thread_store, "messages-tuple").render(token, 3)

    assert text == b"event: messages\ndata: " + TOKEN_BODY + b"\n\n"
    assert ended is False


def _sse(text: bytes) -> list[tuple[str, Any]]:
    events = []
    for block in text.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_the_legacy_messages_mode_keeps_streams_partial_and_whole_messages_complete(
    thread_store: ThreadStore,
) -> None:
    m = mapper(thread_store, "messages")
    chunk, metadata = json.loads(TOKEN_BODY)
    first = await m.render(encode_json(Live.MESSAGES, TOKEN_BODY), 3)
    again = await m.render(encode_json(Live.MESSAGES, TOKEN_BODY), 4)
    closing = {**chunk, "content": "", "response_metadata": {"finish_reason": "stop"}}
    done = await m.render(encode(Live.MESSAGES, [closing, metadata]), 5)

    [(meta_event, meta), (partial_event, [partial])] = _sse(first[0])
    assert meta_event == "messages/metadata" and meta == {chunk["id"]: {"metadata": metadata}}
    assert partial_event == "messages/partial" and partial["content"] == chunk["content"]
    [(_, [twice])] = _sse(again[0])
    assert twice["content"] == chunk["content"] * 2 and twice["type"] == "ai"
    # As the Agent Server: a streamed message never turns `complete`, even on its last chunk.
    [(last_event, [last])] = _sse(done[0])
    assert last_event == "messages/partial" and last["content"] == chunk["content"] * 2
    tool = {"type": "tool", "id": "tool-1", "content": "found", "tool_call_id": "call-1"}
    whole, _ = await m.render(encode(Live.MESSAGES, [tool, metadata]), 6)
    assert [e for e, _ in _sse(whole)][-1] == "messages/complete"


async def test_the_events_mode_reports_model_stream_and_node_ends(
    thread_store: ThreadStore,
) -> None:
    m = mapper(thread_store, "events")
    token, _ = await m.render(encode_json(Live.MESSAGES, TOKEN_BODY), 3)
    update, _ = await m.render(encode(Live.UPDATES, {"model": {"messages": []}}), 4)

    [(_, start), (name, record)] = _sse(token)
    assert start["event"] == "on_chat_model_start"  # the model call's first chunk
    assert name == "events" and record["event"] == "on_chat_model_stream"
    assert record["data"]["chunk"] == json.loads(TOKEN_BODY)[0]
    again, _ = await m.render(encode_json(Live.MESSAGES, TOKEN_BODY), 5)
    assert [r["event"] for _, r in _sse(again)] == ["on_chat_model_stream"]
    [(_, node_end)] = _sse(update)
    assert node_end["event"] == "on_chain_end" and node_end["name"] == "model"


async def test_tokens_are_dropped_without_a_messages_mode(thread_store: ThreadStore) -> None:
    m = mapper(thread_store, "values", "updates", "custom")

    assert await m.render(encode_json(Live.MESSAGES, TOKEN_BODY), 3) == (b"", False)


async def test_reset_goes_to_custom_for_message_or_custom_modes_only(
    thread_store: ThreadStore,
) -> None:
    body = {"message_id": "ai-1", "attempt": 2}
    expected = b'event: custom\ndata: {"type":"chatstop.reset","message_id":"ai-1","attempt":2}\n\n'

    assert await render(mapper(thread_store, "messages-tuple"), Live.RESET, body) == expected
    assert await render(mapper(thread_store, "custom"), Live.RESET, body) == expected
    assert await render(mapper(thread_store, "values"), Live.RESET, body) == b""


async def test_tool_progress_needs_custom_mode(thread_store: ThreadStore) -> None:
    body = {"tool_call_id": "c-1", "name": "search", "progress": 0.5}

    shown = await render(mapper(thread_store, "custom"), Live.PROGRESS, body)
    hidden = await render(mapper(thread_store, "messages-tuple", "values"), Live.PROGRESS, body)

    assert shown == (
        b'event: custom\ndata: {"type":"chatstop.tool","tool_call_id":"c-1","name":"search",'
        b'"progress":0.5}\n\n'
    )
    assert hidden == b""


@pytest.mark.parametrize("kind", [Live.UPDATES, Live.CUSTOM, Live.TASKS, Live.DEBUG])
async def test_graph_events_pass_through_only_in_their_own_mode(
    thread_store: ThreadStore, kind: Live
) -> None:
    body: dict[str, Any] = {"model": {"messages": []}}

    shown = await render(mapper(thread_store, kind.value), kind, body)
    hidden = await render(mapper(thread_store, "values"), kind, body)

    assert shown == f'event: {kind.value}\ndata: {{"model":{{"messages":[]}}}}\n\n'.encode()
    assert hidden == b""


async def test_values_expand_the_stored_messages_they_refer_to(thread_store: ThreadStore) -> None:
    stored = [
        {"type": "human", "content": "one", "id": "h-1"},
        {"type": "ai", "content": "two", "id": "a-1"},
        {"type": "human", "content": "three", "id": "h-2"},
    ]
    checkpoint_id = await thread_store.commit("t-1", stored)
    new = {"type": "ai", "content": "four", "id": "a-2"}
    body = {
        "base": {"thread_id": "t-1", "checkpoint_id": checkpoint_id, "start": 1, "count": 2},
        "values": {"messages": [new], "other": 1},
    }

    text = await render(mapper(thread_store, "values"), Live.VALUES, body)
    dropped = await render(mapper(thread_store, "updates"), Live.VALUES, body)

    head, data = text.split(b"data: ")
    assert head == b"event: values\n"
    values = orjson.loads(data)
    assert [m["id"] for m in values["messages"]] == ["a-1", "h-2", "a-2"]
    assert values["other"] == 1
    assert dropped == b""


async def test_values_without_a_reference_carry_only_their_own_messages(
    thread_store: ThreadStore,
) -> None:
    body = {"values": {"messages": [{"type": "human", "content": "hi", "id": "h"}]}}

    text = await render(mapper(thread_store, "values"), Live.VALUES, body)

    assert text == (
        b'event: values\ndata: {"messages":[{"type":"human","content":"hi","id":"h"}]}\n\n'
    )


async def test_error_and_end_are_always_sent_and_end_says_so(thread_store: ThreadStore) -> None:
    m = mapper(thread_store)
    error = {"error": "ModelError", "message": "429"}

    error_text, error_ended = await m.render(encode(Live.ERROR, error), 5)
    end_text, end_ended = await m.render(encode(Live.END, END_DATA), 6)

    assert error_text == b'event: error\ndata: {"error":"ModelError","message":"429"}\n\n'
    assert end_text == b"event: end\ndata: " + orjson.dumps(END_DATA) + b"\n\n"
    assert (error_ended, end_ended) == (False, True)


async def test_unknown_kinds_and_checkpoints_without_their_mode_are_ignored(
    thread_store: ThreadStore,
) -> None:
    m = mapper(thread_store, "values", "custom", "updates", "messages-tuple")

    assert await render(m, "from-a-newer-worker", None) == b""
    assert await render(m, Live.CHECKPOINTS, {}) == b""


async def test_resumable_streams_carry_the_broker_sequence_as_event_id(
    thread_store: ThreadStore,
) -> None:
    resumable = mapper(thread_store, "messages-tuple", resumable=True)
    plain = mapper(thread_store, "messages-tuple")
    token = encode_json(Live.MESSAGES, TOKEN_BODY)

    with_id, _ = await resumable.render(token, 41)
    without, _ = await plain.render(token, 41)
    end, _ = await resumable.render(encode(Live.END, {}), 42)

    assert with_id.startswith(b"event: messages\nid: 41\ndata: ")
    assert without.startswith(b"event: messages\ndata: ")
    assert end == b"event: end\nid: 42\ndata: {}\n\n"


def test_frames_are_event_optional_id_and_one_data_line() -> None:
    framed = frame("values", b'{"messages":[]}', 3)
    assert framed == b'event: values\nid: 3\ndata: {"messages":[]}\n\n'
    assert frame("values", b"{}") == b"event: values\ndata: {}\n\n"
    assert metadata_frame("r-1") == b'event: metadata\ndata: {"run_id":"r-1","attempt":1}\n\n'
    assert error_frame("E", "m") == b'event: error\ndata: {"error":"E","message":"m"}\n\n'


def test_an_end_rebuilt_from_the_record_keeps_only_the_end_fields() -> None:
    outcome = {**END_DATA, "turn_status": "stopped", "messages": [{"type": "ai"}]}

    assert end_frame(outcome) == b"event: end\ndata: " + orjson.dumps(END_DATA) + b"\n\n"
    assert end_frame({"status": "success"}) == (
        b'event: end\ndata: {"status":"success","outcome":null,"stop":null,"kept":null,'
        b'"undone":null,"not_undone":null,"error":null}\n\n'
    )
