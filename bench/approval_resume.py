"""Time to resume after an approval (chatstop only).

    python -m bench.approval_resume [--samples 20] [--waiting 1 10]

Each sample pauses a run on a `send_email` call that needs approval (POST .../runs/wait ends
with the interrupt), then approves it with `command: {"resume": {"decisions": [{"type":
"approve"}]}}` on POST .../runs/stream and times, from sending the resume: the resuming run
admitted (its `metadata` event), the approved tool's result streamed (the ToolMessage as a
`messages` event), the answer's first token, and the `end` event. With `--waiting N`, N
approvals are pending at once and all are approved together (a reviewer clearing a queue).

The anchor is not measured: the Agent Server has no approval gate of its own (a graph would
call `interrupt()`), so there is no like-for-like figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import uuid
from dataclasses import dataclass, field

import httpx

from bench.client import ASSISTANT, sse_events
from bench.harness import (
    add_common_options,
    bench_options,
    bench_parser,
    for_each_system,
    header,
    run,
)
from bench.stats import Summary
from bench.systems import System

STEPS = ("admitted", "tool result", "first token", "end")


@dataclass
class Resumed:
    sent_at: float = 0.0
    at: dict[str, float] = field(default_factory=dict)

    def after(self, step: str) -> float:
        """ms from the resume being sent to `step`; infinite if it never came."""
        return (self.at[step] - self.sent_at) * 1000 if step in self.at else math.inf


async def pause(http: httpx.AsyncClient) -> str:
    """A thread whose turn waits for approval of one send_email call."""
    thread = (await http.post("/threads", json={})).raise_for_status().json()["thread_id"]
    call = json.dumps({"to": "cfo@example.com", "subject": f"numbers {uuid.uuid4().hex[:8]}"})
    prompt = f"[tool=send_email {call}][tokens=20][pace=5] mail the numbers"
    body = {"assistant_id": ASSISTANT, "input": {"messages": [{"role": "user", "content": prompt}]}}
    answer = (await http.post(f"/threads/{thread}/runs/wait", json=body)).raise_for_status()
    if "__interrupt__" not in answer.json():
        raise RuntimeError(f"the run did not pause for approval: {answer.text[:300]}")
    return str(thread)


async def approve(http: httpx.AsyncClient, thread: str) -> Resumed:
    body = {
        "assistant_id": ASSISTANT,
        "command": {"resume": {"decisions": [{"type": "approve"}]}},
        "stream_mode": ["messages-tuple"],
    }
    resumed = Resumed(sent_at=time.time())
    async with http.stream("POST", f"/threads/{thread}/runs/stream", json=body) as response:
        response.raise_for_status()
        async for name, data, at, _ in sse_events(response):
            resumed.at.setdefault("admitted", at)
            if name == "end":
                resumed.at["end"] = at
            elif name == "messages":
                message = json.loads(data)[0]
                if message.get("type") == "tool":
                    resumed.at.setdefault("tool result", at)
                elif message.get("content") and "tool result" in resumed.at:
                    resumed.at.setdefault("first token", at)
    return resumed


async def measure(system: System, samples: int, waiting: int) -> list[Resumed]:
    limits = httpx.Limits(max_connections=waiting + 10)
    async with httpx.AsyncClient(base_url=system.api_url, timeout=120, limits=limits) as http:
        await approve(http, await pause(http))  # warm-up
        results: list[Resumed] = []
        while len(results) < samples:
            threads = await asyncio.gather(*(pause(http) for _ in range(waiting)))
            results += await asyncio.gather(*(approve(http, t) for t in threads))
        return results[:samples]


def report(by_level: dict[int, list[Resumed]], settings: str) -> None:
    header(
        "Time to resume after an approval (chatstop only)",
        [
            "a run paused on send_email (needs approval); from sending the approving resume "
            "(POST /threads/{t}/runs/stream, command.resume) to each step at the client",
            settings,
        ],
    )
    for waiting, results in by_level.items():
        print(f"\n   {waiting} approval(s) pending and approved at once, {len(results)} samples")
        for step in STEPS:
            print(f"     resume → {step:<12} {Summary.of([r.after(step) for r in results]).line()}")


async def main(args: argparse.Namespace) -> None:
    settings: list[str] = []

    async def one(system: System) -> dict[int, list[Resumed]]:
        settings.append(system.settings)
        return {n: await measure(system, args.samples, n) for n in args.waiting}

    results = await for_each_system(bench_options(args), one, only=("chatstop",))
    if "chatstop" in results:
        report(results["chatstop"], settings[0])


def parser() -> argparse.ArgumentParser:
    p = bench_parser("python -m bench.approval_resume", __doc__)
    p.add_argument("--samples", type=int, default=20, help="approvals timed per level")
    p.add_argument("--waiting", type=int, nargs="+", default=[1, 10], help="pending at once")
    add_common_options(p)
    return p


if __name__ == "__main__":
    run(main(parser().parse_args()))
