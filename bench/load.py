"""Scale-out under load: many runs at once through two API replicas, a third of them
stopped, then proof that nothing was lost, duplicated or left half-done.

    python -m bench.load [--threads 50] [--tokens 200] [--pace 20] [--api-replicas 2]

chatstop only (the anchor's `langgraph dev` runs one in-memory process; it has no replicas).
50 threads, 2 runs each: the first streams, the second is sent with multitask_strategy
"enqueue" while the first runs, so 100 runs are in flight (50 streaming, 50 queued). Requests
alternate between the replicas; a third of the runs are stopped at a random token of their
answer (half action=rollback, half interrupt) through the other replica than the one
streaming them; half of the runs call create_ticket before answering, so rollbacks have a
side effect to undo.

Figures: turns per minute; stop -> the model seeing its stream closed, and stop -> the
terminal `end` event, p50/p95 (target p95 <= 150 ms); CPU (utime+stime, /proc) and peak
RSS of every server process: Temporal dev server, NATS, worker, each API replica.

Checks, each printed with what it saw: one terminal state per run; every thread's history
valid (and accepted by the scripted model: one more short run per thread); no SSE event
lost or duplicated; no model call after an accepted stop, no ticket left by a rollback;
enqueued runs one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import time

import httpx
from temporalio.client import Client

from bench.chatstop_stack import ChatstopSystem
from bench.client import AgentClient, Turn
from bench.harness import add_common_options, bench_options, bench_parser, for_each_system, run
from bench.load_checks import CHECKS, Evidence, calls_by_run, ticket_titles
from bench.load_report import LoadResult, Usage, report
from bench.load_workload import TOOL, LoadRun, LoadSettings, plan, run_load, run_marker
from bench.systems import System
from core.contracts import turn_workflow_id

WARM_UP = f'[tokens=5][pace=1][tool={TOOL} {{"title": "warm-up"}}] warm-up'


async def measure(system: System, s: LoadSettings) -> LoadResult:
    assert isinstance(system, ChatstopSystem), "the load benchmark runs chatstop only"
    batch, runs = plan(s, len(system.api_urls))
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(AgentClient(url, streams=s.runs + 10))
            for url in system.api_urls
        ]
        for client in clients:  # connections, caches, each replica's first workflow task
            await client.stream(Turn(await client.create_thread()), WARM_UP)
        await system.model.clear()
        before = await Usage.read(system)
        wall = await run_load(clients, runs, s)
        usage = Usage.between(before, await Usage.read(system), system)
        evidence = await gather_evidence(system, clients, runs, batch)
    checks = [check(runs, evidence) for check in CHECKS]
    return LoadResult(s, system.settings, system.api_urls, runs, wall, usage, checks, evidence)


async def gather_evidence(
    system: ChatstopSystem, clients: list[AgentClient], runs: list[LoadRun], batch: str
) -> Evidence:
    """Records, states and logs as the load left them; then one more run per thread."""
    threads = {run.thread: run.turn.thread_id for run in runs}

    def via(index: int) -> AgentClient:
        return clients[index % len(clients)]

    statuses = await asyncio.gather(*(_status(via(n), r) for n, r in enumerate(runs)))
    states = await asyncio.gather(
        *(via(t).get_json(f"/threads/{thread}/state") for t, thread in threads.items())
    )
    follow_ups = await asyncio.gather(
        *(
            _follow_up(via(t + 1), thread, run_marker(batch, t, "check"))
            for t, thread in threads.items()
        )
    )
    return Evidence(
        closed_at=await _turns_closed(system, [r for r in runs if r.stop_accepted]),
        statuses={r.marker: status for r, status in zip(runs, statuses, strict=True)},
        messages={t: state["values"]["messages"] for t, state in zip(threads, states, strict=True)},
        follow_ups=dict(zip(threads, follow_ups, strict=True)),
        calls=calls_by_run(await system.model.log(batch), batch),
        tickets=ticket_titles(system.data_dir),
    )


async def _turns_closed(system: ChatstopSystem, runs: list[LoadRun]) -> dict[str, float]:
    """When Temporal closed each stopped run's turn workflow (wall clock, as the client's)."""
    temporal = await Client.connect(system.temporal_address)

    async def closed(run: LoadRun) -> float | None:
        workflow_id = turn_workflow_id(run.turn.thread_id, run.turn.run_id)
        close_time = (await temporal.get_workflow_handle(workflow_id).describe()).close_time
        return close_time.timestamp() if close_time else None

    times = await asyncio.gather(*(closed(r) for r in runs))
    return {r.marker: t for r, t in zip(runs, times, strict=True) if t is not None}


async def _status(client: AgentClient, run: LoadRun) -> str:
    if not run.turn.run_id:
        return "(never created)"
    body = await client.get_json(f"/threads/{run.turn.thread_id}/runs/{run.turn.run_id}")
    return str(body["status"])


async def _follow_up(client: AgentClient, thread_id: str, marker: str) -> str:
    try:
        return await client.wait(thread_id, f"[tokens=3][pace=1] check {marker}")
    except httpx.HTTPStatusError as exc:
        return f"HTTP {exc.response.status_code}: {exc.response.text[:200]}"


async def main(args: argparse.Namespace) -> None:
    s = LoadSettings(
        threads=args.threads, runs_per_thread=args.runs_per_thread, tokens=args.tokens,
        pace=args.pace, stop_share=args.stop_share, tool_share=args.tool_share, seed=args.seed,
    )  # fmt: skip
    options = dataclasses.replace(bench_options(args), api_replicas=args.api_replicas)
    started = time.monotonic()

    async def one(system: System) -> LoadResult:
        return await measure(system, s)

    results = await for_each_system(options, one, only=("chatstop",))
    if "chatstop" in results:
        report(results["chatstop"], args.target_p95, time.monotonic() - started)


def parser() -> argparse.ArgumentParser:
    p = bench_parser("python -m bench.load", __doc__)
    d = LoadSettings()
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--runs-per-thread", type=int, default=d.runs_per_thread)
    p.add_argument("--tokens", type=int, default=d.tokens, help="answer length")
    p.add_argument("--pace", type=float, default=d.pace, help="ms per token")
    p.add_argument("--stop-share", type=float, default=d.stop_share, help="runs stopped")
    p.add_argument("--tool-share", type=float, default=d.tool_share, help=f"runs calling {TOOL}")
    p.add_argument("--seed", type=int, default=d.seed, help="draws tools, stops and actions")
    p.add_argument("--api-replicas", type=int, default=2, help="chatstop API processes")
    p.add_argument("--target-p95", type=float, default=150.0, help="stop p95 target, ms")
    add_common_options(p)
    return p


if __name__ == "__main__":
    run(main(parser().parse_args()))
