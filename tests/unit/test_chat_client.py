"""The model activity's OpenAI client hands streamed chunks to langchain-openai as dicts.

Against the scripted model over real HTTP: what ChatOpenAI makes of a stream through this
client (text, tool calls, finish reason) must be exactly what it makes of the same stream
through the stock client, which builds a pydantic chunk for every token.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import reduce
from operator import add
from typing import Any

import openai
import pytest
import pytest_asyncio
from langchain_core.messages import AIMessageChunk
from openai.types.chat import ChatCompletion

from activities.chat_client import ChunkDictOpenAI, chunk_dict_client, streaming_chat_model
from devstack.scripted_model.runner import RunningScriptedModel
from tests.fixtures.scripted import chat_model, search_docs


@pytest_asyncio.fixture(loop_scope="session")
async def client(model: RunningScriptedModel) -> AsyncIterator[ChunkDictOpenAI]:
    made = chunk_dict_client(model.base_url, "scripted")
    yield made
    await made.close()


async def merged(llm: Any, prompt: str) -> AIMessageChunk:
    chunks = [chunk async for chunk in llm.astream(prompt)]
    assert len(chunks) > 1  # really streamed
    result = reduce(add, chunks)
    assert isinstance(result, AIMessageChunk)
    return result


def essentials(message: AIMessageChunk) -> dict[str, Any]:
    """What a turn keeps of an answer; tool call ids are fresh per request."""
    return {
        "content": message.content,
        "tool_calls": [(call["name"], call["args"]) for call in message.tool_calls],
        "finish_reason": message.response_metadata.get("finish_reason"),
        "model_name": message.response_metadata.get("model_name"),
    }


@pytest.mark.parametrize(
    "directives",
    ["[tokens=12] [pace=0]", '[tokens=3] [pace=0] [tool=search_docs {"query": "temporal"}]'],
)
async def test_chatopenai_reads_the_same_answer_as_with_the_stock_client(
    model: RunningScriptedModel, client: ChunkDictOpenAI, directives: str
) -> None:
    ours = streaming_chat_model(
        "scripted-test", base_url=model.base_url, api_key="scripted", client=client
    ).bind_tools([search_docs])
    stock = chat_model(model).bind_tools([search_docs])
    prompt = f"{uuid.uuid4().hex} {directives}"

    got, expected = await merged(ours, prompt), await merged(stock, prompt)

    assert essentials(got) == essentials(expected)
    assert got.content or got.tool_calls  # the comparison compared something


async def test_streamed_chunks_are_dicts_and_everything_else_is_built_as_usual(
    client: ChunkDictOpenAI,
) -> None:
    messages: Any = [{"role": "user", "content": f"{uuid.uuid4().hex} [tokens=2] [pace=0]"}]
    stream = await client.chat.completions.create(
        model="scripted-test", messages=messages, stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert chunks and all(isinstance(chunk, dict) for chunk in chunks)

    whole = await client.chat.completions.create(model="scripted-test", messages=messages)
    assert isinstance(whole, ChatCompletion)


async def test_an_upstream_error_is_still_the_sdks_error(client: ChunkDictOpenAI) -> None:
    messages: Any = [{"role": "user", "content": f"{uuid.uuid4().hex} [fail=429]"}]
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model="scripted-test", messages=messages, stream=True)
