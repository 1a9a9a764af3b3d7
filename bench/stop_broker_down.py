"""Stops while the NATS broker is down: does Stop still reach the model without it?

Tokens ride on the broker, so with it frozen the client cannot count tokens to pick the
moment to stop. Each round therefore starts N runs with the broker up, waits until every
run has streamed a few tokens, freezes the broker (SIGSTOP: its connections stay open but
nothing answers, the nastiest way for it to be down), sends each run's stop after a random
delay spanning the same 3-150 tokens, and thaws the broker once every run has ended or
given up. A terminal event that came only after the thaw counts as never seen; a model call
closed only after the thaw counts with its full (late) latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterator

from bench.chatstop_stack import ChatstopSystem
from bench.client import AgentClient, Turn
from bench.scripted import LogEntry
from bench.stops import (
    PATIENCE_SECONDS,
    SLACK_SECONDS,
    STOP_RANGE,
    Stop,
    answer_seconds,
    judge,
    prompt,
)
from bench.systems import System

TERMINAL_WAIT = 10.0
"""How long after the last stop the broker stays frozen, waiting for the runs to end."""


def broker_pid(system: System, name: str | None = None) -> int | None:
    """The broker's pid (or the named devstack process's), if the system has one."""
    if not isinstance(system, ChatstopSystem):
        return None
    return system.pids().get(name) if name else system.broker_pid()


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """SIGSTOP the process group for the block; SIGCONT whatever happens."""
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(pid, signal.SIGCONT)


async def broker_down_level(
    system: System, pid: int, concurrency: int, stops: int, tokens: int, pace: float
) -> list[Stop]:
    await system.model.clear()
    results: list[Stop] = []
    async with AgentClient(system.api_url, streams=concurrency) as client:
        while len(results) < stops:
            n = min(concurrency, stops - len(results))
            results += await _round(system, client, pid, n, tokens, pace)
    return results


async def _round(
    system: System, client: AgentClient, pid: int, n: int, tokens: int, pace: float
) -> list[Stop]:
    markers = [uuid.uuid4().hex for _ in range(n)]
    turns = [Turn(thread) for thread in await _threads(client, n)]
    timeout = answer_seconds(tokens, pace) + SLACK_SECONDS
    streams = [
        asyncio.create_task(
            client.stream(turn, prompt(tokens, pace, marker), give_up_after=timeout)
        )
        for turn, marker in zip(turns, markers, strict=True)
    ]
    await _until(lambda: all(len(t.token_times) >= STOP_RANGE[0] for t in turns), timeout)
    with frozen(pid):
        await asyncio.gather(*(_stop_later(client, turn, pace) for turn in turns))
        calls = await _closed_calls(system, markers, [None] * n, PATIENCE_SECONDS)
        await _until(
            lambda: all(t.end_at or s.done() for t, s in zip(turns, streams, strict=True)),
            TERMINAL_WAIT,
        )
    thawed_at = time.time()
    # Calls still open: closed once the broker is back (late), or never (ran to the end).
    calls = await _closed_calls(system, markers, calls, answer_seconds(tokens, pace))
    await asyncio.gather(*streams)
    results = [judge(turn, call) for turn, call in zip(turns, calls, strict=True)]
    return [_unless_after(stop, turn, thawed_at) for stop, turn in zip(results, turns, strict=True)]


async def _closed_calls(
    system: System, markers: list[str], known: list[LogEntry | None], within: float
) -> list[LogEntry | None]:
    """The model's calls for `markers`, looking again only at those not known to be closed."""

    async def one(marker: str, call: LogEntry | None) -> LogEntry | None:
        return call or await system.model.closed_call(marker, within=within)

    return list(await asyncio.gather(*(one(m, c) for m, c in zip(markers, known, strict=True))))


async def _threads(client: AgentClient, n: int) -> list[str]:
    return list(await asyncio.gather(*(client.create_thread() for _ in range(n))))


async def _stop_later(client: AgentClient, turn: Turn, pace: float) -> None:
    await asyncio.sleep(random.uniform(0, (STOP_RANGE[1] - STOP_RANGE[0]) * pace / 1000))
    if turn.run_id:
        await client.stop(turn)


async def _until(condition: Callable[[], bool], within: float, every: float = 0.02) -> None:
    """Poll `condition` (the streams are other tasks' state) until true or `within` passed."""
    for _ in range(int(within / every)):
        if condition():
            return
        await asyncio.sleep(every)


def _unless_after(stop: Stop, turn: Turn, thawed_at: float) -> Stop:
    """A terminal event that needed the broker back is one the user never saw while down."""
    if turn.terminal_at > thawed_at:
        return Stop(stop.outcome, stop.to_disconnect, math.inf, stop.status)
    return stop
