"""A streamed answer's live events and final message, from a real langchain-openai stream.

Each text chunk's `messages-tuple` body is filled into a byte template instead of dumping
the chunk: the body must be exactly the dump, and the template must really be used (it
silently was not when langchain-openai began to put `model_provider` on every chunk).
"""

from __future__ import annotations

import uuid
from functools import reduce
from operator import add
from typing import Any

import orjson
import pytest
from langchain_core.messages import AIMessageChunk

from activities.model_answer import Answer
from devstack.scripted_model.runner import RunningScriptedModel
from tests.fixtures.scripted import chat_model, search_docs

METADATA = {"langgraph_node": "agent", "run_id": "r1"}
TEXT = "[tokens=12] [pace=0]"
TOOL = '[tokens=3] [pace=0] [tool=search_docs {"query": "temporal"}]'


async def chunks_of(model: RunningScriptedModel, directives: str) -> list[AIMessageChunk]:
    llm = chat_model(model).bind_tools([search_docs])
    chunks = [c async for c in llm.astream(f"{uuid.uuid4().hex} {directives}")]
    assert len(chunks) > 2 and all(isinstance(c, AIMessageChunk) for c in chunks)
    return chunks  # type: ignore[return-value]


async def streamed(
    model: RunningScriptedModel, directives: str
) -> tuple[Answer, list[tuple[AIMessageChunk, bytes | None]]]:
    """An answer fed a real stream, with each chunk's event body."""
    answer = Answer("m1", METADATA)
    return answer, [(chunk, answer.add(chunk)) for chunk in await chunks_of(model, directives)]


def full_dump(chunk: AIMessageChunk, message_id: str) -> Any:
    data = chunk.model_dump(mode="json")
    data["id"] = message_id
    return [data, METADATA]


@pytest.mark.parametrize("directives", [TEXT, TOOL])
async def test_every_event_is_the_chunk_as_dumped(
    model: RunningScriptedModel, directives: str
) -> None:
    _, shown = await streamed(model, directives)

    events = [(chunk, body) for chunk, body in shown if body is not None]
    assert events
    for chunk, body in events:
        assert orjson.loads(body) == full_dump(chunk, "m1")
    assert all(body is not None for chunk, body in shown if chunk.content)


@pytest.mark.parametrize("directives", [TEXT, TOOL])
async def test_the_message_is_the_merged_stream(
    model: RunningScriptedModel, directives: str
) -> None:
    answer, shown = await streamed(model, directives)
    chunks = [chunk for chunk, _ in shown]

    got, merged = answer.message(), reduce(add, chunks)
    assert got.id == "m1"
    assert got.content == merged.content
    assert [(c["name"], c["args"]) for c in got.tool_calls] == [
        (c["name"], c["args"]) for c in merged.tool_calls
    ]
    for key in ("finish_reason", "model_name", "model_provider"):
        assert got.response_metadata.get(key) == merged.response_metadata.get(key), key
    assert answer.tokens == sum(1 for c in chunks if c.content)


async def test_text_chunks_are_not_dumped_one_by_one(
    model: RunningScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = [c for c in await chunks_of(model, TEXT) if c.content]
    assert all(c.response_metadata for c in chunks)  # what made every chunk look special
    dumps = 0
    dump = AIMessageChunk.model_dump

    def counted(self: AIMessageChunk, **kwargs: Any) -> dict[str, Any]:
        nonlocal dumps
        dumps += 1
        return dump(self, **kwargs)

    monkeypatch.setattr(AIMessageChunk, "model_dump", counted)
    answer = Answer("m1", METADATA)
    for chunk in chunks:
        answer.add(chunk)
    assert dumps <= 1  # the template, made once per call
