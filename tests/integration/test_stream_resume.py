"""Resuming a finished run's stream with the official client, on the whole stack: a client
that already saw the `end` gets nothing more and a clean close (no `error`, no second or
synthetic `end`); one that missed only the end gets exactly the end."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.stack import Stack

pytestmark = pytest.mark.integration


async def _finished_resumable_run(client: Any, marker: str) -> tuple[str, str, list[Any]]:
    thread = (await client.threads.create())["thread_id"]
    parts = [
        part
        async for part in client.runs.stream(
            thread,
            "agent",
            input={"messages": [{"role": "user", "content": f"[tokens=5] {marker}"}]},
            stream_mode=["messages-tuple", "values"],
            stream_resumable=True,
        )
    ]
    run_id = parts[0].data["run_id"]
    return thread, run_id, parts


async def _rejoin(client: Any, thread: str, run_id: str, last_event_id: str) -> list[Any]:
    return [
        part async for part in client.runs.join_stream(thread, run_id, last_event_id=last_event_id)
    ]


@pytest.mark.parametrize("past", [0, 1, 10_000])
async def test_rejoining_at_or_past_the_end_sends_nothing_and_ends_cleanly(
    stack: Stack, marker: str, past: int
) -> None:
    client = get_client(url=stack.api_url)
    thread, run_id, parts = await _finished_resumable_run(client, marker)
    end = parts[-1]
    assert end.event == "end" and end.id is not None, parts[-3:]

    again = await _rejoin(client, thread, run_id, str(int(end.id) + past))

    assert again == []
    assert (await client.runs.get(thread, run_id))["status"] == "success"


async def test_rejoining_just_before_the_end_sends_only_the_end(stack: Stack, marker: str) -> None:
    client = get_client(url=stack.api_url)
    thread, run_id, parts = await _finished_resumable_run(client, marker)
    before_end = parts[-2]

    again = await _rejoin(client, thread, run_id, str(before_end.id))

    assert [(p.event, p.id) for p in again] == [("end", parts[-1].id)]
    assert again[0].data == parts[-1].data
