"""Workflow history cost of a turn, streamed over SSE as a real client would.

    python -m bench.history_size [--long-seconds 300]

Measures (1) a turn with 2 tool calls and a 500-token answer and (2) one long answer of
--long-seconds (50 tokens/s), against Temporal's 10,240-event warning."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
import uuid

from langgraph_sdk import get_client
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.harness import BenchStack, launched_stack, settings_line, user
from core.contracts import turn_workflow_id

WARNING_LIMIT = 10_240
PACE_MS = 20


async def streamed_turn(stack: BenchStack, prompt: str) -> tuple[str, str, float]:
    client = get_client(url=stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    run_id = ""
    started = time.monotonic()
    async for part in client.runs.stream(
        thread, "agent", input=user(prompt), stream_mode=["messages-tuple", "updates"]
    ):
        if part.event == "metadata":
            run_id = part.data["run_id"]
    return thread, run_id, time.monotonic() - started


async def history(temporal: Client, thread: str, run_id: str) -> tuple[int, int, dict[str, int]]:
    handle = temporal.get_workflow_handle(turn_workflow_id(thread, run_id))
    events = [e async for e in handle.fetch_history_events()]
    kinds = collections.Counter(
        EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in events
    )
    return len(events), sum(e.ByteSize() for e in events), dict(kinds.most_common(6))


async def main(long_seconds: int) -> None:
    tools = "".join(f"[tool=search_docs {json.dumps({'query': q})}]" for q in ("stop", "rollback"))
    async with launched_stack() as stack:
        temporal = await Client.connect(stack.temporal_address)
        await streamed_turn(stack, f"[tokens=5] warm-up {uuid.uuid4().hex}")
        turn = await streamed_turn(stack, f"{tools}[tokens=500][pace={PACE_MS}] {uuid.uuid4().hex}")
        count, size, kinds = await history(temporal, turn[0], turn[1])
        tokens = long_seconds * 1000 // PACE_MS
        long = await streamed_turn(stack, f"[tokens={tokens}][pace={PACE_MS}] {uuid.uuid4().hex}")
        long_count, long_size, long_kinds = await history(temporal, long[0], long[1])
    print("workflow history per turn (streamed over SSE by the langgraph-sdk client)")
    print(f"  settings: {settings_line()}")
    print(
        f"  2 tool calls + 500-token answer ({turn[2]:.1f} s): "
        f"{count} events, {size / 1024:.1f} KiB"
    )
    print(f"    most frequent: {kinds}")
    print(
        f"  {long_seconds} s answer ({tokens} tokens): {long_count} events, "
        f"{long_size / 1024:.1f} KiB = {100 * long_count / WARNING_LIMIT:.0f}% of the "
        f"{WARNING_LIMIT:,}-event warning"
    )
    print(f"    most frequent: {long_kinds}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long-seconds", type=int, default=300)
    asyncio.run(main(parser.parse_args().long_seconds))
