"""Run request -> turn input: message normalisation, its 422s, stream modes, limits,
previews, idempotent ids (pure functions, no server)."""

from __future__ import annotations

import math
import uuid

import pytest

from api.errors import InvalidInputError, PayloadTooLargeError
from api.message_ids import chosen_ids
from api.run_input import (
    check_input_size,
    check_stream_modes,
    idempotent_run_id,
    new_run_record,
    normalize_input,
    normalize_stream_modes,
    preview_text,
    strict_json,
)
from api.schemas import RunCreate
from core.settings import LimitSettings


def test_role_user_becomes_a_flat_human_message_with_a_fresh_uuid() -> None:
    [message] = normalize_input({"messages": [{"role": "user", "content": "hi"}]})

    assert message["type"] == "human"
    assert message["content"] == "hi"
    assert str(uuid.UUID(message["id"])) == message["id"]
    assert set(message) == {"type", "content", "id"}


def test_given_ids_and_flat_messages_are_kept() -> None:
    messages = normalize_input(
        {
            "messages": [
                {"type": "human", "content": "one", "id": "m-1"},
                {"role": "human", "content": [{"type": "text", "text": "two"}], "id": "m-2"},
            ]
        }
    )

    assert messages == [
        {"type": "human", "content": "one", "id": "m-1"},
        {"type": "human", "content": [{"type": "text", "text": "two"}], "id": "m-2"},
    ]


def test_each_message_without_id_gets_its_own() -> None:
    first, second = normalize_input({"messages": [{"role": "user", "content": "a"}] * 2})

    assert first["id"] != second["id"]


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (None, "input.messages must be a non-empty list"),
        ({}, "input.messages must be a non-empty list"),
        ({"messages": []}, "input.messages must be a non-empty list"),
        ({"messages": "hi"}, "input.messages must be a non-empty list"),
        ({"messages": [42]}, "input.messages[0] must be an object with role/type and content"),
        (
            {"messages": [{"role": "assistant", "content": "x"}]},
            "input.messages[0]: only user messages can start a turn (role 'user' or type "
            "'human'), got 'assistant'",
        ),
        (
            {"messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": 7}]},
            "input.messages[1].content must be a string or a list of content parts",
        ),
        ({"messages": [{"role": "user", "content": "  "}]}, "input.messages[0].content is empty"),
        ({"messages": [{"role": "user", "content": "x", "id": 5}]}, "input.messages[0].id must"),
    ],
)
def test_bad_input_is_rejected_with_a_detail_naming_the_message(raw: object, detail: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        normalize_input(raw)

    assert caught.value.detail.startswith(detail)


def test_stream_modes_accept_a_string_a_list_or_nothing() -> None:
    assert normalize_stream_modes("values") == ["values"]
    assert normalize_stream_modes(["messages-tuple", "values", "values"]) == [
        "messages-tuple",
        "values",
    ]
    assert normalize_stream_modes(["values,updates"]) == ["values", "updates"]
    assert normalize_stream_modes([""]) is None
    assert normalize_stream_modes(None) is None


def test_preview_joins_user_text_and_truncates() -> None:
    messages = [{"type": "human", "content": "a" * 300, "id": "m"}]

    assert preview_text([{"type": "human", "content": " hi ", "id": "m"}]) == "hi"
    assert len(preview_text(messages)) == 200
    assert preview_text(messages, 10) == "aaaaaaaaa…"


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        ([{"type": "text", "text": 5}], "input.messages[0].content[0].text must be a string"),
        ([{"type": "text", "text": None}], "input.messages[0].content[0].text must be a string"),
        ([{"text": "no type"}], "input.messages[0].content[0] must be an object with a string"),
        (["bare string part"], "input.messages[0].content[0] must be an object with a string"),
        ([], "input.messages[0].content is empty"),
    ],
)
def test_bad_content_parts_are_rejected_naming_the_part(content: object, detail: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        normalize_input({"messages": [{"role": "user", "content": content}]})

    assert caught.value.detail.startswith(detail)


def test_a_message_of_only_non_text_parts_is_not_empty() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}

    [message] = normalize_input({"messages": [{"role": "user", "content": [image]}]})

    assert message["content"] == [image]


def test_an_id_repeated_within_one_input_is_rejected() -> None:
    with pytest.raises(InvalidInputError) as caught:
        normalize_input({"messages": [{"type": "human", "content": c, "id": "x"} for c in "ab"]})

    assert caught.value.detail == (
        "input.messages[1].id 'x' repeats input.messages[0].id; each message needs its own id"
    )


def test_chosen_ids_are_only_the_ones_the_client_gave() -> None:
    raw = {"messages": ["text", {"content": "a"}, {"content": "b", "id": "m-2"}, {"id": 3}]}

    assert chosen_ids(raw) == ["m-2"]
    assert chosen_ids(None) == [] and chosen_ids({"messages": "x"}) == []


def test_unknown_stream_modes_are_named() -> None:
    check_stream_modes(["values", "messages-tuple", "updates", "custom", "events", "debug"])
    check_stream_modes(None)

    with pytest.raises(InvalidInputError) as caught:
        check_stream_modes(["values", "sparkles", "glitter"])

    assert caught.value.detail == (
        "stream_mode 'sparkles', 'glitter' is not supported; supported: values, updates, "
        "messages-tuple, messages, custom, events, tasks, checkpoints, debug"
    )


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_strict_json_refuses_nan_and_infinity(number: float) -> None:
    strict_json("metadata", {"ok": [1, 2.5, None]})

    with pytest.raises(InvalidInputError) as caught:
        strict_json("metadata", {"x": number})

    assert caught.value.detail.startswith("metadata is not valid JSON: Out of range float")


def test_input_limits_count_messages_then_bytes() -> None:
    limits = LimitSettings(max_input_messages=2, max_input_bytes=100)
    small = [{"type": "human", "content": "a", "id": "1"}]

    check_input_size(small, limits)
    with pytest.raises(InvalidInputError, match="input.messages has 3 messages; at most 2"):
        check_input_size(small * 3, limits)
    with pytest.raises(PayloadTooLargeError, match="input.messages is 125 bytes; at most 100 "):
        check_input_size([{"type": "human", "content": "x" * 80, "id": "1"}], limits)


def test_a_new_run_record_keeps_the_request_and_streams_values_by_default() -> None:
    body = RunCreate(assistant_id="agent", input={"messages": ["hi"]}, metadata={"k": 1})

    streamed = new_run_record("t-1", body, "alice", streaming=True, limits=LimitSettings())
    background = new_run_record("t-1", body, "alice", streaming=False, limits=LimitSettings())

    assert streamed.status == "pending" and streamed.user_id == "alice"
    assert streamed.workflow_id == f"turn:t-1:{streamed.run_id}"
    assert streamed.metadata == {"k": 1} and streamed.multitask_strategy == "enqueue"
    assert streamed.kwargs["stream_mode"] == ["values"]
    assert background.kwargs["stream_mode"] is None
    assert streamed.input_messages[0]["content"] == "hi"


@pytest.mark.parametrize("empty", [None, {}, {"messages": []}])
def test_a_resume_takes_no_input_as_usestream_sends_it(empty: dict[str, object] | None) -> None:
    resume = {"resume": {"decisions": [{"type": "approve"}]}}
    body = RunCreate(assistant_id="agent", input=empty, command=resume)  # type: ignore[arg-type]

    run = new_run_record("t-1", body, "alice", streaming=True, limits=LimitSettings())

    assert run.kwargs["input"] is None and run.kwargs["command"]["resume"] == resume["resume"]


def test_a_resume_with_new_messages_is_refused_with_a_detail() -> None:
    body = RunCreate(
        assistant_id="agent",
        input={"messages": ["hi"]},
        command={"resume": {"decisions": [{"type": "approve"}]}},  # type: ignore[arg-type]
    )

    with pytest.raises(InvalidInputError, match="takes no input messages"):
        new_run_record("t-1", body, "alice", streaming=True, limits=LimitSettings())


@pytest.mark.parametrize(
    ("goto", "refused"),
    [("__end__", False), (["__end__"], False), ("model", True), (["model", "tools"], True)],
)
def test_only_a_goto_to_the_end_is_served(goto: object, refused: bool) -> None:
    body = RunCreate(assistant_id="agent", input={}, command={"goto": goto})  # type: ignore[arg-type]

    if refused:
        with pytest.raises(InvalidInputError, match="not supported"):
            new_run_record("t-1", body, "alice", streaming=True, limits=LimitSettings())
    else:
        run = new_run_record("t-1", body, "alice", streaming=True, limits=LimitSettings())
        assert run.kwargs["command"]["goto"] == goto and run.kwargs["input"] is None


def test_no_command_and_empty_input_still_needs_messages() -> None:
    body = RunCreate(assistant_id="agent", input={})

    with pytest.raises(InvalidInputError, match="non-empty list"):
        new_run_record("t-1", body, "alice", streaming=True, limits=LimitSettings())


def test_an_idempotency_key_names_one_run_per_caller_and_thread() -> None:
    one = idempotent_run_id("alice", "t-1", "k")

    assert one == idempotent_run_id("alice", "t-1", "k")
    assert one != idempotent_run_id("bob", "t-1", "k") != idempotent_run_id("alice", "t-2", "k")
    assert idempotent_run_id("alice", "t-1", None) is None
    assert idempotent_run_id("alice", "t-1", "") is None
