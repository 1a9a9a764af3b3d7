"""The benchmark client leaves nothing running behind a stream it gave up on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from bench.client import AgentClient, Turn
from tests.fixtures.eventually import eventually


async def _one_token_then_silence() -> AsyncIterator[bytes]:
    yield b'event: messages\ndata: [{"type": "AIMessageChunk", "content": "hi", "id": "m"}, {}]\n\n'
    await asyncio.Event().wait()  # the answer goes on; the level is cancelled meanwhile


def _serving_one_token(request: httpx.Request) -> httpx.Response:
    headers = {"content-location": "/threads/t/runs/r"}
    return httpx.Response(200, headers=headers, content=_one_token_then_silence())


async def test_a_cancelled_stream_cancels_its_stop_in_flight() -> None:
    stop_started, stop_ended = asyncio.Event(), asyncio.Event()

    async def slow_stop(turn: Turn) -> None:
        stop_started.set()
        try:
            await asyncio.Event().wait()  # the cancel request has no answer yet
        finally:
            stop_ended.set()

    async with AgentClient("http://api") as client:
        transport = httpx.MockTransport(_serving_one_token)
        client._http = httpx.AsyncClient(transport=transport, base_url="http://api")
        turn = Turn("t")
        streaming = asyncio.create_task(
            client.stream(turn, "hello", stop_at=1, stop_with=slow_stop)
        )
        await eventually(stop_started.is_set, within=5, what="the stop was sent")
        streaming.cancel()
        await asyncio.gather(streaming, return_exceptions=True)

    assert stop_ended.is_set(), "the stop was left running after its stream was cancelled"
