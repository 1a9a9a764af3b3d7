"""Token delivery latency: from the scripted model writing a token to the SSE client
receiving it, through the model activity, Workflow Streams and the API.

    python -m bench.token_latency [--runs 8] [--tokens 300] [--pace 20]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from langgraph_sdk import get_client

from bench.harness import BenchStack, describe, launched_stack, settings_line, user


async def one_run(stack: BenchStack, tokens: int, pace: float) -> list[float]:
    client = get_client(url=stack.api_url)
    marker = uuid.uuid4().hex
    thread = await client.threads.create()
    received: list[float] = []
    async for part in client.runs.stream(
        thread["thread_id"],
        "agent",
        input=user(f"[tokens={tokens}][pace={pace}] {marker}"),
        stream_mode=["messages-tuple"],
    ):
        if part.event == "messages":
            received.append(time.time())
    [call] = await stack.model_log(marker)
    sent = call["token_times"]
    if len(sent) != len(received):
        raise RuntimeError(f"sent {len(sent)} tokens but received {len(received)}")
    return [(r - s) * 1000 for r, s in zip(received, sent, strict=True)]


async def main(runs: int, tokens: int, pace: float) -> None:
    async with launched_stack() as stack:
        await one_run(stack, 10, pace)  # warm-up: connections, caches, first workflow task
        latencies: list[float] = []
        for _ in range(runs):
            latencies += await one_run(stack, tokens, pace)
    print("token delivery latency (scripted model write -> SSE client receive)")
    print(f"  settings: {runs} runs x {tokens} tokens, {pace:g} ms per token, one at a time;")
    print(f"            {settings_line()}")
    print(f"  all tokens: {describe(latencies)}")
    first = [v for i, v in enumerate(latencies) if i % tokens < tokens // 2]
    print(f"  first half of each answer: {describe(first)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--pace", type=float, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.tokens, args.pace))
