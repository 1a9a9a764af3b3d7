"""A cheap Agent Server client: raw httpx and a hand-rolled SSE reader.

The client shares two cores with the servers it measures, so it does as little as it can:
one connection pool, bytes split on blank lines, and JSON decoded only for `messages`
events (to tell answer tokens from empty chunks and tool messages) and the few others that
say something (metadata, the `end`, a reset). Each read's arrival
time stamps every event in it, so parsing cost never shows up as server latency.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

ASSISTANT = "agent"
RESET = "chatstop.reset"
"""A retried model call restarts its message: the client drops what it showed of it."""


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
    stop_answered_at: float | None = None
    """When the cancel request's response arrived."""
    errors: list[str] = field(default_factory=list)
    timed_out: bool = False
    """The client gave up before the server closed the stream."""
    admitted: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the server answered the run's request (the run exists), or it failed."""
    texts: list[tuple[str, str]] = field(default_factory=list)
    """(message id, text) of each answer token, minus those of messages later reset."""
    event_ids: list[str] = field(default_factory=list)
    """The SSE `id` of every event that had one (resumable streams), in arrival order."""
    events: list[str] = field(default_factory=list)
    """The name of every event, in arrival order."""
    outcome: str | None = None
    """The `outcome` of the first `end` event."""
    resets: int = 0

    @property
    def terminal_at(self) -> float:
        """The terminal event if there is one, else the stream's end (inf: never seen)."""
        if self.end_at is not None:
            return self.end_at
        return math.inf if self.timed_out else self.closed_at


def _note(turn: Turn, name: str, data: bytes, at: float, event_id: str | None) -> bool:
    """Record one event in `turn`; True if it was an answer token (a `messages` event with
    text: not a role/finish chunk, not a tool message)."""
    turn.events.append(name)
    if event_id is not None:
        turn.event_ids.append(event_id)
    if name == "messages":
        chunk = json.loads(data)[0]
        if chunk.get("type") == "AIMessageChunk" and chunk.get("content"):
            turn.token_times.append(at)
            turn.texts.append((str(chunk.get("id")), str(chunk["content"])))
            return True
    elif name == "metadata":
        turn.run_id = json.loads(data)["run_id"]
    elif name == "end" and turn.end_at is None:
        turn.end_at = at
        turn.outcome = json.loads(data).get("outcome")
    elif name == "error":
        turn.errors.append(data.decode(errors="replace"))
    elif name == "custom" and RESET.encode() in data:
        _reset(turn, json.loads(data))
    return False


def _reset(turn: Turn, event: dict[str, Any]) -> None:
    turn.resets += 1
    dropped = str(event.get("message_id"))
    turn.texts = [(message, text) for message, text in turn.texts if message != dropped]


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

    async def get_json(self, path: str) -> Any:
        response = await self._http.get(path)
        response.raise_for_status()
        return response.json()

    async def wait(self, thread_id: str, prompt: str) -> str:
        """Run `prompt` on the thread to its end (POST /runs/wait); the run's status."""
        body = {
            "assistant_id": ASSISTANT,
            "input": {"messages": [{"role": "user", "content": prompt}]},
        }
        response = await self._http.post(f"/threads/{thread_id}/runs/wait", json=body)
        response.raise_for_status()
        return str((await self.get_json(response.headers["content-location"]))["status"])

    async def stream(
        self,
        turn: Turn,
        prompt: str,
        *,
        stop_at: int | None = None,
        give_up_after: float | None = None,
        options: dict[str, Any] | None = None,
        stop_with: Callable[[Turn], Coroutine[Any, Any, None]] | None = None,
    ) -> Turn:
        """Stream one run on `turn.thread_id` to its end, filling `turn` in as events arrive
        (so a caller may watch it). With `stop_at`, stop the run once that many tokens
        arrived (by `stop_with`, e.g. another replica's `stop`; default this client's);
        after `give_up_after` seconds, give up on the stream (`turn.timed_out`). `options`
        join the request body (`multitask_strategy`, `stream_resumable`, ...)."""
        body = {
            "assistant_id": ASSISTANT,
            "input": {"messages": [{"role": "user", "content": prompt}]},
            "stream_mode": ["messages-tuple"],
            **(options or {}),
        }
        stop = stop_with or self.stop
        stopping: asyncio.Task[None] | None = None
        turn.sent_at = time.time()
        try:
            async with asyncio.timeout(give_up_after):
                path = f"/threads/{turn.thread_id}/runs/stream"
                async with self._http.stream("POST", path, json=body) as response:
                    response.raise_for_status()
                    if location := response.headers.get("content-location"):
                        turn.run_id = location.rsplit("/", 1)[-1]
                    turn.admitted.set()
                    async for name, data, at, event_id in sse_events(response):
                        token = _note(turn, name, data, at, event_id)
                        if token and len(turn.token_times) == stop_at:
                            # Not awaited here: the stream must keep being read meanwhile.
                            stopping = asyncio.create_task(stop(turn))
        except TimeoutError:
            turn.timed_out = True
        except BaseException:
            # The stream was cancelled (its level stopped) or failed: its stop must not be
            # left running unawaited, to fail later as "Task exception was never retrieved".
            if stopping is not None:
                stopping.cancel()
                await asyncio.gather(stopping, return_exceptions=True)
            raise
        finally:
            turn.admitted.set()  # also when the request failed: nobody waits forever
        turn.closed_at = time.time()
        if stopping is not None:
            await stopping
        return turn

    async def stop(self, turn: Turn, action: str = "interrupt") -> None:
        path = f"/threads/{turn.thread_id}/runs/{turn.run_id}/cancel"
        turn.stop_sent_at = time.time()
        response = await self._fresh.post(path, params={"action": action})
        turn.stop_answered_at = time.time()
        turn.stop_status = response.status_code


async def sse_events(
    response: httpx.Response,
) -> AsyncIterator[tuple[str, bytes, float, str | None]]:
    """(event name, raw data, arrival time, id or None) of each SSE event; comments are
    skipped."""
    buffer = b""
    async for chunk in response.aiter_raw():
        at = time.time()
        buffer += chunk
        if b"\r" in buffer:  # sse-starlette (the anchor) ends lines with CRLF
            buffer = buffer.replace(b"\r\n", b"\n")
        *blocks, buffer = buffer.split(b"\n\n")
        for block in blocks:
            name, data, event_id = b"message", [], None
            for line in block.split(b"\n"):
                if line.startswith(b"event:"):
                    name = line[6:].strip()
                elif line.startswith(b"data:"):
                    data.append(line[5:].lstrip(b" "))
                elif line.startswith(b"id:"):
                    event_id = line[3:].strip().decode()
            if data:
                yield name.decode(), b"\n".join(data), at, event_id
