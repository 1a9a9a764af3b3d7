"""The OpenAI client and ChatOpenAI the model activity streams through, built once per worker.

The client hands each streamed chat chunk to langchain-openai as the JSON object it arrived
as. langchain-openai reads a chunk as a dict (it calls `model_dump()` on a pydantic chunk
first, and takes a dict as it is), so building the SDK's pydantic `ChatCompletionChunk` for
every token, only to dump it again, is pure cost. Measured with py-spy, 20 streams of long
answers: that build was over a third of the worker's CPU. Every other response (errors included)
is built as the SDK always does, and HTTP, SSE parsing and error events stay the SDK's.
"""

from __future__ import annotations

from typing import Any

import openai
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletionChunk


class ChunkDictOpenAI(openai.AsyncOpenAI):
    """AsyncOpenAI whose chat-completion streams yield plain dicts instead of models.

    Only for plain streamed chat completions, as the model activity makes them: the SDK's
    own stream helpers (`beta.chat.completions.stream`, used for `response_format`) read
    chunk attributes and need the models."""

    def _process_response_data(self, *, data: object, cast_to: Any, response: Any) -> Any:
        if cast_to is ChatCompletionChunk and isinstance(data, dict):
            return data
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)


def streaming_chat_model(
    model_name: str, *, base_url: str | None, api_key: str, client: openai.AsyncOpenAI
) -> ChatOpenAI:
    """A streaming ChatOpenAI on `client`. No retries: Temporal retries, so every attempt
    shows in the history. No per-chunk timeout: the call's stall watch
    (`model.stream_idle_timeout_seconds`) already ends a silent stream, and langchain-openai's
    own wraps every chunk in `asyncio.wait_for`, a task per token."""
    return ChatOpenAI(
        model=model_name,
        base_url=base_url,
        api_key=api_key,  # type: ignore[arg-type]
        max_retries=0,
        streaming=True,
        stream_chunk_timeout=None,
        async_client=client.chat.completions,
        root_async_client=client,
    )


def chunk_dict_client(base_url: str | None, api_key: str) -> ChunkDictOpenAI:
    """One client (and connection pool) for every model the worker calls.

    aiohttp reads the stream as it arrives; the default httpx transport arms a cancel scope
    and re-registers the socket with epoll for every chunk (measured: a third of the
    worker's CPU with 20 streams went there)."""
    return ChunkDictOpenAI(
        base_url=base_url,
        api_key=api_key,
        max_retries=0,
        timeout=openai.Timeout(10.0, read=None),
        http_client=openai.DefaultAioHttpClient(),
    )
