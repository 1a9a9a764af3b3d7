"""A cheap Agent Server client: raw httpx and a hand-rolled SSE reader.

The client shares two cores with the servers it measures, so it does as little as it can:
one connection pool, bytes split on blank lines, and JSON decoded only for `messages`
events (to tell answer tokens from empty chunks and tool messages). Each read's arrival
time stamps every event in it, so parsing cost never shows up as server latency.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

ASSISTANT = "agent"


@dataclass
class Turn:
    """What the client saw of one streamed run (times are wall clock, `time.time()`)."""

    thread_id: str
    run_id: str = ""
    sent_at: float = 0.0
    """When the POST /runs/stream request was sent."""
    token_times: list[float] = field(default_factory=list)
    """Arrival of each answer token (a `messages` event with text)."""
    end_at: float | None = None
    """Arrival of `event: end` (chatstop's terminal event; the anchor sends none)."""
    closed_at: float = 0.0
    """When the server closed the stream."""
    stop_sent_at: float | None = None
    stop_status: int | None = None
    errors: list[str] = field(default_factory=list)
    timed_out: bool = False
    """The client gave up before the server closed the stream."""

    @property
    def terminal_at(self) -> float:
        """The terminal event if there is one, else the stream's end (inf: never seen)."""
        if self.end_at is not None:
            return self.end_at
        return math.inf if self.timed_out else self.closed_at


def _note(turn: Turn, name: str, data: bytes, at: float) -> bool:
    """Record one event in `turn`; True if it was an answer token."""
    if name == "messages" and is_token(data):
        turn.token_times.append(at)
        return True
    if name == "metadata":
        turn.run_id = json.loads(data)["run_id"]
    elif name == "end":
        turn.end_at = at
    elif name == "error":
        turn.errors.append(data.decode(errors="replace"))
    return False


def is_token(data: bytes) -> bool:
    """A `messages` event carrying answer text (not a role/finish chunk, not a tool message)."""
    chunk = json.loads(data)[0]
    return chunk.get("type") == "AIMessageChunk" and bool(chunk.get("content"))


class AgentClient:
    """Speaks the Agent Server protocol to one API base URL."""

    def __init__(self, base_url: str, *, streams: int = 100, timeout: float = 300) -> None:
        limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits)
        # Stops go out on a fresh connection each, as a browser's Stop click would.
        self._fresh = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0)
        )

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()
        await self._fresh.aclose()

    async def create_thread(self) -> str:
        response = await self._http.post("/threads", json={})
        response.raise_for_status()
        return str(response.json()["thread_id"])

    async def stream(
        self,
        turn: Turn,
        prompt: str,
        *,
        stop_at: int | None = None,
        give_up_after: float | None = None,
    ) -> Turn:
        """Stream one run on `turn.thread_id` to its end, filling `turn` in as events arrive
        (so a caller may watch it). With `stop_at`, stop the run once that many tokens
        arrived; after `give_up_after` seconds, give up on the stream (`turn.timed_out`)."""
        body = {
            "assistant_id": ASSISTANT,
            "input": {"messages": [{"role": "user", "content": prompt}]},
            "stream_mode": ["messages-tuple"],
        }
        stopping: asyncio.Task[None] | None = None
        turn.sent_at = time.time()
        try:
            async with asyncio.timeout(give_up_after):
                path = f"/threads/{turn.thread_id}/runs/stream"
                async with self._http.stream("POST", path, json=body) as response:
                    response.raise_for_status()
                    async for name, data, at in _events(response):
                        if _note(turn, name, data, at) and len(turn.token_times) == stop_at:
                            # Not awaited here: the stream must keep being read meanwhile.
                            stopping = asyncio.create_task(self.stop(turn))
        except TimeoutError:
            turn.timed_out = True
        turn.closed_at = time.time()
        if stopping is not None:
            await stopping
        return turn

    async def stop(self, turn: Turn, action: str = "interrupt") -> None:
        path = f"/threads/{turn.thread_id}/runs/{turn.run_id}/cancel"
        turn.stop_sent_at = time.time()
        response = await self._fresh.post(path, params={"action": action})
        turn.stop_status = response.status_code


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, bytes, float]]:
    """(event name, raw data, arrival time) of each SSE event; comments are skipped."""
    buffer = b""
    async for chunk in response.aiter_raw():
        at = time.time()
        buffer += chunk
        if b"\r" in buffer:  # sse-starlette (the anchor) ends lines with CRLF
            buffer = buffer.replace(b"\r\n", b"\n")
        *blocks, buffer = buffer.split(b"\n\n")
        for block in blocks:
            name, data = b"message", []
            for line in block.split(b"\n"):
                if line.startswith(b"event:"):
                    name = line[6:].strip()
                elif line.startswith(b"data:"):
                    data.append(line[5:].lstrip(b" "))
            if data:
                yield name.decode(), b"\n".join(data), at
