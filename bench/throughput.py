"""Throughput and token delivery, and the servers' CPU per streamed token.

    python -m bench.throughput [--streams 1 20] [--tokens 300] [--pace 20]

Per level, N answers of T tokens at P ms per token stream at once, each on its own thread.
Token latency is the client's receive time minus the scripted model's write time of the
same token (matched by index within the answer); time to first token runs from sending the
request to the first token; the batch's wall time is set against the ideal, (T-1) x P.

CPU per token: utime+stime of the server process trees (chatstop: every devstack process
but the model, i.e. Temporal dev server, worker, API and the broker once there is one; the
anchor: the langgraph dev tree) from just before the streams start until the servers are
quiet again, divided by the tokens delivered. The shared scripted model and this client
are not counted, but shown for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass, field

from bench import procstat
from bench.chatstop_stack import ChatstopSystem
from bench.client import AgentClient, Turn
from bench.harness import (
    add_common_options,
    bench_options,
    bench_parser,
    for_each_system,
    header,
    run,
)
from bench.scripted import LogEntry, mentions
from bench.stats import Summary, ms, table
from bench.systems import System


@dataclass
class Batch:
    streams: int
    tokens: int
    pace: float
    latencies: list[float] = field(default_factory=list)
    first_token: list[float] = field(default_factory=list)
    wall: float = 0.0
    delivered: int = 0
    missing: int = 0
    server_cpu: dict[str, float] = field(default_factory=dict)
    client_cpu: float = 0.0
    model_cpu: float = 0.0
    other_cpu: float = 0.0
    """CPU the rest of the machine used meanwhile: noise from other tenants."""
    measured: float = 0.0
    """Seconds between the two CPU readings (the wall time plus settling)."""
    actions: int | None = None
    """Temporal actions during the batch (chatstop only)."""

    @property
    def ideal(self) -> float:
        return (self.tokens - 1) * self.pace / 1000

    @property
    def other_load(self) -> float:
        """Other processes' CPU over the batch, in cores."""
        return self.other_cpu / self.measured if self.measured else 0.0


def prompt(tokens: int, pace: float, marker: str) -> str:
    return f"[tokens={tokens}][pace={pace:g}] {marker}"


async def run_batch(system: System, streams: int, tokens: int, pace: float) -> Batch:
    """N concurrent answers, measured; the model log is cleared first (see ScriptedModel)."""
    batch, marker = Batch(streams, tokens, pace), uuid.uuid4().hex
    await system.model.clear()
    async with AgentClient(system.api_url, streams=streams) as client:
        threads = await asyncio.gather(*(client.create_thread() for _ in range(streams)))
        before = await _readings(system)
        started = time.time()
        # A task group, not gather: a refused run (an overloaded API's 503) stops the batch
        # instead of leaving the other streams running unawaited.
        prompts = [prompt(tokens, pace, f"{marker}-{i}-") for i in range(streams)]
        async with asyncio.TaskGroup() as streaming:
            running = [
                streaming.create_task(client.stream(Turn(thread), text))
                for thread, text in zip(threads, prompts, strict=True)
            ]
        turns = [task.result() for task in running]
        batch.wall = time.time() - started
        after = await _readings(system)
    _account(batch, before, after)
    calls = await system.model.log(marker)
    for i, turn in enumerate(turns):
        _add_turn(batch, turn, [c for c in calls if mentions(c, f"{marker}-{i}-")])
    return batch


@dataclass
class _Reading:
    server: dict[str, float]
    client: float
    model: float
    machine: float
    actions: int | None
    at: float


async def _readings(system: System) -> _Reading:
    server = await procstat.settled(system.server_roots())
    actions = None
    if isinstance(system, ChatstopSystem):
        actions = sum((await system.actions()).values())
    model = procstat.cpu_seconds(system.model.pid)
    machine = procstat.machine_busy()
    return _Reading(server, procstat.own_cpu(), model, machine, actions, time.monotonic())


def _account(batch: Batch, before: _Reading, after: _Reading) -> None:
    batch.server_cpu = {k: after.server[k] - before.server.get(k, 0.0) for k in after.server}
    batch.client_cpu = after.client - before.client
    batch.model_cpu = after.model - before.model
    ours = sum(batch.server_cpu.values()) + batch.client_cpu + batch.model_cpu
    batch.other_cpu = max(0.0, after.machine - before.machine - ours)
    batch.measured = after.at - before.at
    if after.actions is not None and before.actions is not None:
        batch.actions = after.actions - before.actions


def _add_turn(batch: Batch, turn: Turn, calls: list[LogEntry]) -> None:
    written = [t for call in calls for t in call["token_times"]]
    received = turn.token_times
    batch.delivered += len(received)
    batch.missing += abs(len(written) - len(received))
    batch.latencies += [(r - w) * 1000 for r, w in zip(received, written, strict=False)]
    if received:
        batch.first_token.append((received[0] - turn.sent_at) * 1000)


async def measure(system: System, levels: list[int], tokens: int, pace: float) -> list[Batch]:
    await run_batch(system, 1, 10, pace)  # warm-up: connections, caches, first workflow task
    return [await run_batch(system, n, tokens, pace) for n in levels]


def report(
    results: dict[str, list[Batch]], systems: dict[str, str], tokens: int, pace: float
) -> None:
    header(
        "throughput and token delivery (scripted model write -> SSE client receive)",
        [
            f"N concurrent answers x {tokens} tokens at {pace:g} ms/token "
            f"({1000 / pace:g} tokens/s each), one thread each; ideal wall time "
            f"{(tokens - 1) * pace / 1000:.2f} s; TTFT = request sent -> first token",
            *systems.values(),
        ],
    )
    columns = ["streams", "system", "token p50", "token p95", "max", "TTFT p50", "TTFT p95"]
    columns += ["wall (vs ideal)", "tokens", "missing"]
    print(table(columns, [_delivery_row(n, b) for n, bs in results.items() for b in bs]))
    print("\n   server CPU per streamed token (utime+stime of the server process trees, /proc,")
    print("   until the servers are quiet again; the shared model and the client for scale;")
    print("   others' load = the rest of the machine meanwhile, % of one core: noise)")
    columns = ["streams", "system", "CPU/token", "server CPU", "by process (s)", "model CPU"]
    columns += ["client CPU", "others' load", "Temporal actions (/token)"]
    print(table(columns, [_cpu_row(n, b) for n, bs in results.items() for b in bs]))


def _delivery_row(name: str, b: Batch) -> list[str]:
    lat, ttft = Summary.of(b.latencies), Summary.of(b.first_token)
    wall = f"{b.wall:.2f} s (+{100 * (b.wall / b.ideal - 1):.0f}%)"
    return [
        str(b.streams), name, ms(lat.p50), ms(lat.p95), ms(lat.max), ms(ttft.p50), ms(ttft.p95),
        wall, f"{b.delivered:,}", str(b.missing),
    ]  # fmt: skip


def _cpu_row(name: str, b: Batch) -> list[str]:
    total = sum(b.server_cpu.values())
    parts = ", ".join(f"{k} {v:.2f}" for k, v in b.server_cpu.items())
    actions = "-" if b.actions is None else f"{b.actions:,} ({b.actions / b.delivered:.2f})"
    return [
        str(b.streams), name, f"{1000 * total / max(b.delivered, 1):.3f} ms", f"{total:.2f} s",
        parts, f"{b.model_cpu:.2f} s", f"{b.client_cpu:.2f} s", f"{b.other_load:.0%}", actions,
    ]  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    systems: dict[str, str] = {}

    async def one(system: System) -> list[Batch]:
        systems[system.name] = system.settings
        return await measure(system, args.streams, args.tokens, args.pace)

    results = await for_each_system(bench_options(args), one)
    report(results, systems, args.tokens, args.pace)


def parser() -> argparse.ArgumentParser:
    p = bench_parser("python -m bench.throughput", __doc__)
    p.add_argument("--streams", type=int, nargs="+", default=[1, 20], help="levels (N)")
    p.add_argument("--tokens", type=int, default=300, help="answer length T")
    p.add_argument("--pace", type=float, default=20, help="ms per token P")
    add_common_options(p)
    return p


if __name__ == "__main__":
    run(main(parser().parse_args()))
