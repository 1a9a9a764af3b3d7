"""The capacity search counts a level the system refuses as overloaded as failed, not a crash."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httpx
import pytest

from bench import capacity
from bench.capacity import Level, measure_level
from bench.stops import Stop
from bench.throughput import Batch

ARGS = argparse.Namespace(token_p95=150.0, stop_p95=100.0, tokens=300, pace=20.0)


def _streams_answered_with(status: int) -> Any:
    """A level's streams as run_batch starts them: a task group of real httpx requests, here
    answered by a server that says `status` to every run."""

    async def measured(*args: Any) -> Level:
        transport = httpx.MockTransport(lambda request: httpx.Response(status, json={}))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:

            async def run() -> None:
                (await http.post("/threads/t/runs/stream")).raise_for_status()

            async with asyncio.TaskGroup() as streams:
                for _ in range(3):
                    streams.create_task(run())
        raise AssertionError("the server refused nothing")

    return measured


async def test_a_level_refused_as_overloaded_fails_with_the_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(capacity, "_measured", _streams_answered_with(503))
    level = await measure_level(_system(), 80, ARGS)
    assert level.refused == "refused (503)"
    assert not level.passes(ARGS)


async def test_a_server_error_is_not_taken_for_overload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capacity, "_measured", _streams_answered_with(500))
    with pytest.raises(ExceptionGroup) as raised:
        await measure_level(_system(), 80, ARGS)
    assert raised.group_contains(httpx.HTTPStatusError)


def test_the_capacity_is_the_best_level_below_a_refused_one() -> None:
    passing = Level(60, _batch(latency=30.0), [Stop("closed", 15.0, 40.0)] * 20)
    refused = Level(80, Batch(80, 300, 20.0), [], refused="refused (503)")
    assert passing.passes(ARGS)
    assert capacity.capacity([passing, refused], ARGS) == "60 streams (80 fails)"


def _batch(latency: float) -> Batch:
    batch = Batch(60, 300, 20.0)
    batch.latencies = [latency] * 10
    return batch


def _system() -> Any:
    """Only the level's name is read once the measuring itself is replaced."""
    return argparse.Namespace(name="fake")
