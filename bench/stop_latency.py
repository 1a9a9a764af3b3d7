"""Stop latency: from the cancel request to (a) the scripted model seeing its HTTP stream
closed and (b) the SSE client receiving the terminal event, with 1 and with 20 runs
streaming at once, stopping each at a random point of its answer.

    python -m bench.stop_latency [--stops 60] [--concurrency 1 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field

import httpx
from langgraph_sdk import get_client

from bench.harness import BenchStack, describe, launched_stack, settings_line, user

PACE_MS = 20


@dataclass
class Results:
    to_disconnect: list[float] = field(default_factory=list)
    to_end_event: list[float] = field(default_factory=list)
    streaming_seconds: float = 0.0


async def stop_one(stack: BenchStack, results: Results) -> None:
    client = get_client(url=stack.api_url)
    marker = uuid.uuid4().hex
    thread = (await client.threads.create())["thread_id"]
    stop_after = random.randint(3, 150)  # a random point of the answer
    tokens, run_id, sent_at, ended_at = 0, "", 0.0, 0.0
    async for part in client.runs.stream(
        thread, "agent", input=user(f"[tokens=5000][pace={PACE_MS}] {marker}"),
        stream_mode=["messages-tuple"],
    ):  # fmt: skip
        if part.event == "metadata":
            run_id = part.data["run_id"]
        tokens += part.event == "messages"
        if tokens == stop_after and not sent_at:
            async with httpx.AsyncClient(base_url=stack.api_url) as http:
                sent_at = time.time()  # a fresh connection, as a browser's Stop click would
                response = await http.post(f"/threads/{thread}/runs/{run_id}/cancel")
            response.raise_for_status()
        if part.event == "end":
            ended_at = time.time()
    [call] = await stack.model_log(marker)
    if not call["disconnected"]:
        raise RuntimeError(f"model stream was not disconnected: {call}")
    results.to_disconnect.append((call["end"] - sent_at) * 1000)
    results.to_end_event.append((ended_at - sent_at) * 1000)
    results.streaming_seconds += call["end"] - call["start"]


async def measure(stack: BenchStack, concurrency: int, stops: int) -> tuple[Results, float]:
    results = Results()
    remaining = stops
    rpcs_before = await stack.heartbeat_rpcs()

    async def slot() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await stop_one(stack, results)

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    rpcs = await stack.heartbeat_rpcs() - rpcs_before
    return results, rpcs / results.streaming_seconds


async def main(stops: int, levels: list[int]) -> None:
    async with launched_stack() as stack:
        await stop_one(stack, Results())  # warm-up
        report = [await measure(stack, level, stops) for level in levels]
    print("stop latency (from the cancel request)")
    print(f"  settings: {stops} stops per level at a random token (3-150) of a {PACE_MS} ms/token")
    print(f"            answer; {settings_line()}")
    for level, (results, rate) in zip(levels, report, strict=True):
        print(f"  {level} concurrent streaming run(s):")
        print(f"    to upstream disconnect seen by the model: {describe(results.to_disconnect)}")
        print(f"    to terminal SSE event at the client:      {describe(results.to_end_event)}")
        print(f"    heartbeat RPCs per streaming model call:  {rate:.1f} per second")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stops", type=int, default=60)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20])
    args = parser.parse_args()
    asyncio.run(main(args.stops, args.concurrency))
