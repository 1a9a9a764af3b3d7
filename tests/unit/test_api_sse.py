"""TurnEvent -> SSE mapping (pure), per stream mode."""

from __future__ import annotations

import json

from api.sse import (
    SseEvent,
    StreamContext,
    end_from_outcome,
    ended_without_end,
    format_sse,
    metadata_event,
    to_sse,
)
from core.contracts import TurnEvent

TOKENS = TurnEvent(
    kind="tokens", data={"message_id": "ai-1", "node": "model", "texts": ["Hel", "lo"]}
)
RESET = TurnEvent(kind="reset", data={"message_id": "ai-1", "attempt": 2})
TOOL = TurnEvent(kind="tool", data={"tool_call_id": "c-1", "name": "search", "progress": 0.5})
END_DATA = {
    "status": "interrupted",
    "outcome": "interrupted",
    "stop": {"action": "interrupt", "actor": "alice", "reason": "enough"},
    "kept": ["m-1"],
    "undone": [],
    "not_undone": [],
    "error": None,
}


def one(event: TurnEvent, offset: int | None, context: StreamContext) -> SseEvent | None:
    """The single SSE event a non-token TurnEvent maps to, or None."""
    events = to_sse(event, offset, context)
    assert len(events) <= 1
    return events[0] if events else None


def ctx(*modes: str, resumable: bool = False) -> StreamContext:
    return StreamContext(
        run_id="r-1",
        thread_id="t-1",
        assistant_id="agent",
        stream_modes=frozenset(modes),
        resumable=resumable,
    )


def test_each_token_of_a_batch_becomes_a_messages_tuple_with_langgraph_metadata() -> None:
    events = to_sse(TOKENS, 7, ctx("messages-tuple"))

    assert [e.data[0]["content"] for e in events] == ["Hel", "lo"]
    assert events[0] == SseEvent(
        event="messages",
        data=[
            {
                "type": "AIMessageChunk",
                "content": "Hel",
                "id": "ai-1",
                "tool_calls": [],
                "tool_call_chunks": [],
                "additional_kwargs": {},
                "response_metadata": {},
                "invalid_tool_calls": [],
            },
            {
                "langgraph_node": "model",
                "run_id": "r-1",
                "thread_id": "t-1",
                "assistant_id": "agent",
            },
        ],
    )


def test_messages_mode_also_gets_tokens() -> None:
    events = to_sse(TOKENS, 0, ctx("messages"))

    assert [e.event for e in events] == ["messages", "messages"]


def test_tokens_are_dropped_without_a_messages_mode() -> None:
    assert to_sse(TOKENS, 0, ctx("values", "updates", "custom")) == []


def test_reset_goes_to_custom_for_message_or_custom_modes_only() -> None:
    expected = SseEvent(
        event="custom", data={"type": "chatstop.reset", "message_id": "ai-1", "attempt": 2}
    )

    assert one(RESET, 3, ctx("messages-tuple")) == expected
    assert one(RESET, 3, ctx("custom")) == expected
    assert one(RESET, 3, ctx("values")) is None


def test_tool_progress_needs_custom_mode() -> None:
    assert one(TOOL, 1, ctx("custom")) == SseEvent(
        event="custom",
        data={"type": "chatstop.tool", "tool_call_id": "c-1", "name": "search", "progress": 0.5},
    )
    assert one(TOOL, 1, ctx("messages-tuple", "values")) is None


def test_updates_and_values_pass_through_when_their_mode_is_on() -> None:
    updates = TurnEvent(kind="updates", data={"model": {"messages": []}})
    values = TurnEvent(kind="values", data={"messages": [{"type": "human", "content": "hi"}]})

    assert one(updates, 2, ctx("updates")) == SseEvent(event="updates", data=updates.data)
    assert one(values, 2, ctx("values")) == SseEvent(event="values", data=values.data)
    assert one(updates, 2, ctx("values")) is None
    assert one(values, 2, ctx("updates")) is None


def test_error_and_end_are_always_sent() -> None:
    error = TurnEvent(kind="error", data={"error": "ModelError", "message": "429", "extra": 1})
    end = TurnEvent(kind="end", data=END_DATA)

    assert one(error, 5, ctx()) == SseEvent(
        event="error", data={"error": "ModelError", "message": "429"}
    )
    assert one(end, 6, ctx()) == SseEvent(event="end", data=END_DATA)


def test_unknown_kinds_are_ignored() -> None:
    assert one(TurnEvent(kind="debug", data={}), 0, ctx("values", "custom")) is None


def test_resumable_streams_carry_the_offset_as_event_id() -> None:
    tokens = to_sse(TOKENS, 41, ctx("messages-tuple", resumable=True))
    values = one(TurnEvent(kind="values", data={}), 42, ctx("values", resumable=True))
    plain = to_sse(TOKENS, 41, ctx("messages-tuple"))
    synthesized = one(TurnEvent(kind="end", data={}), None, ctx(resumable=True))

    assert [e.id for e in tokens] == ["41.0", "41.1"]  # unique ids, resumable mid-batch
    assert values is not None and values.id == "42"
    assert [e.id for e in plain] == [None, None]
    assert synthesized is not None and synthesized.id is None


def test_format_sse_writes_event_id_and_compact_json() -> None:
    text = format_sse(SseEvent(event="values", data={"messages": []}, id="3"))

    assert text == 'event: values\nid: 3\ndata: {"messages":[]}\n\n'
    assert format_sse(metadata_event("r-1")) == (
        'event: metadata\ndata: {"run_id":"r-1","attempt":1}\n\n'
    )


def test_a_stream_without_end_closes_with_error_then_end() -> None:
    error, end = ended_without_end("interrupted", "the turn workflow was terminated")

    assert error == SseEvent(
        event="error",
        data={"error": "RunEndedUnexpectedly", "message": "the turn workflow was terminated"},
    )
    assert end.event == "end"
    assert end.data["status"] == "interrupted"
    assert end.data["error"] == "the turn workflow was terminated"
    assert ended_without_end("running", "lost")[1].data["status"] == "error"


def test_end_from_outcome_keeps_only_the_end_fields() -> None:
    outcome = {**END_DATA, "turn_status": "stopped", "messages": [{"type": "ai"}]}

    event = end_from_outcome(outcome)

    assert event == TurnEvent(kind="end", data=END_DATA)
    assert json.loads(json.dumps(event.data)) == END_DATA
