"""Run request -> turn input: message normalisation, its 422s, stream modes, previews."""

from __future__ import annotations

import uuid

import pytest

from api.errors import InvalidInputError
from api.run_input import normalize_input, normalize_stream_modes, preview_text


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
