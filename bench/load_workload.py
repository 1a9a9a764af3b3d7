"""The scale-out load: many threads, each with a run streaming and another enqueued behind
it, through several API replicas, a share of the runs stopped at a random point of their
answer through another replica than the one streaming them.

Everything random is drawn up front from one seeded generator (`plan`), so a run of the
benchmark can be repeated as it was, and the checks know what each run was meant to do.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from functools import partial

import httpx

from bench.client import AgentClient, Turn

TOOL = "create_ticket"
"""The side-effecting demo tool (agents/demo_tools.py): a rollback deletes its ticket."""
SLACK_SECONDS = 120.0
"""Beyond the thread's answers' own length: how long a stream may take before the client
gives up on it (it then fails the checks)."""


@dataclass(frozen=True, kw_only=True)
class LoadSettings:
    threads: int = 50
    runs_per_thread: int = 2
    tokens: int = 200
    pace: float = 20.0
    stop_share: float = 1 / 3
    tool_share: float = 0.5
    stop_window: float = 0.75
    """Stops land at a random token from 1 to this share of the answer, so they reach the
    model while it still writes (a stop at the last token would race the answer's end)."""
    seed: int = 1

    @property
    def runs(self) -> int:
        return self.threads * self.runs_per_thread

    @property
    def answer_seconds(self) -> float:
        return self.tokens * self.pace / 1000

    def line(self, replicas: int) -> str:
        return (
            f"{self.runs} runs on {self.threads} threads ({self.runs_per_thread} per thread, "
            f'each after the first sent with multitask_strategy "enqueue" while the first '
            f"runs), {replicas} API replicas (requests alternate; a stop goes through another "
            f"replica than the one streaming), answers of {self.tokens} tokens at "
            f"{self.pace:g} ms/token ({self.answer_seconds:g} s), {self.tool_share:.0%} of the "
            f"runs call {TOOL} first, {self.stop_share:.0%} stopped at a random token "
            f"1-{self.stop_at_most} (half action=rollback, half interrupt), "
            f"stream_resumable=true, seed {self.seed}"
        )

    @property
    def stop_at_most(self) -> int:
        return max(1, int(self.tokens * self.stop_window))


@dataclass
class LoadRun:
    """One planned run and, once it ran, what the client saw of it."""

    thread: int
    index: int
    """0: the thread's first run; later ones are enqueued behind it."""
    marker: str
    """In the run's prompt (and its ticket's title): ties model calls and tickets to it."""
    api: int
    """The replica streaming it (the stop goes through the next one)."""
    tool: bool = False
    stop_at: int | None = None
    action: str | None = None
    """interrupt or rollback, for a stopped run."""
    turn: Turn = field(default_factory=lambda: Turn(""))

    def prompt(self, s: LoadSettings) -> str:
        tool = f"[tool={TOOL} {json.dumps({'title': ticket_title(self.marker)})}]"
        return f"[tokens={s.tokens}][pace={s.pace:g}]{tool if self.tool else ''} load {self.marker}"

    @property
    def stop_accepted(self) -> bool:
        return self.turn.stop_status == 202


def ticket_title(marker: str) -> str:
    return f"ticket {marker}"


def run_marker(batch: str, thread: int, label: str) -> str:
    """`label` is r0, r1, ... or check; the trailing dot keeps t1 from matching t10."""
    return f"{batch}-t{thread}-{label}."


def plan(s: LoadSettings, replicas: int) -> tuple[str, list[LoadRun]]:
    """(batch marker, every run) with its tool, stop point and action drawn from the seed."""
    rng = random.Random(s.seed)
    batch = uuid.UUID(int=rng.getrandbits(128)).hex[:12]
    runs = [
        LoadRun(thread=t, index=i, marker=run_marker(batch, t, f"r{i}"), api=(t + i) % replicas)
        for t in range(s.threads)
        for i in range(s.runs_per_thread)
    ]
    for run in rng.sample(runs, round(len(runs) * s.tool_share)):
        run.tool = True
    stopped = rng.sample(runs, round(len(runs) * s.stop_share))
    for n, run in enumerate(stopped):
        run.action = "rollback" if n % 2 == 0 else "interrupt"
        run.stop_at = rng.randint(1, s.stop_at_most)
    return batch, runs


async def run_load(clients: list[AgentClient], runs: list[LoadRun], s: LoadSettings) -> float:
    """Every thread at once; the wall time (s) from the first request to the last stream's
    end."""
    by_thread: dict[int, list[LoadRun]] = {}
    for run in runs:
        by_thread.setdefault(run.thread, []).append(run)
    started = time.monotonic()
    await asyncio.gather(*(_thread(clients, t, rs, s) for t, rs in by_thread.items()))
    return time.monotonic() - started


async def _thread(
    clients: list[AgentClient], index: int, runs: list[LoadRun], s: LoadSettings
) -> None:
    """Create the thread, start its first run, and enqueue each next one once the one
    before it exists (so the queue order is the plan's)."""
    thread_id = await clients[index % len(clients)].create_thread()
    streams = []
    for run in runs:
        run.turn = Turn(thread_id)
        streams.append(asyncio.create_task(_stream(clients, run, s)))
        await run.turn.admitted.wait()
    await asyncio.gather(*streams)


async def _stream(clients: list[AgentClient], run: LoadRun, s: LoadSettings) -> None:
    streaming, stopping = clients[run.api], clients[(run.api + 1) % len(clients)]
    options: dict[str, object] = {"stream_resumable": True}
    if run.index:
        options["multitask_strategy"] = "enqueue"
    stop_with = partial(stopping.stop, action=run.action) if run.action else None
    give_up = s.answer_seconds * s.runs_per_thread + SLACK_SECONDS
    try:
        await streaming.stream(
            run.turn, run.prompt(s), stop_at=run.stop_at, give_up_after=give_up,
            options=options, stop_with=stop_with,
        )  # fmt: skip
    except httpx.HTTPError as exc:
        run.turn.errors.append(f"{type(exc).__name__}: {exc}")
