"""Stop latency: from the cancel request to (a) the scripted model seeing its HTTP stream
closed and (b) the client seeing the run end, with N runs streaming at once.

    python -m bench.stop_latency [--concurrency 1 20] [--stops 60] [--broker-down]

Each of N slots streams a run and stops it at a random token (3-150) with
`POST /threads/{t}/runs/{r}/cancel?action=interrupt` on a fresh connection, then starts the
next run, until the level's stops are done. (b) is chatstop's `event: end`; the anchor sends
no terminal event, its stream just closes. A stop "never closed" the upstream stream when
the model went on writing its whole answer after it.

--broker-down: the same stops with the NATS broker frozen (SIGSTOP) while they happen
(chatstop only; a no-op, saying so, when devstack runs no broker).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math

from bench.client import AgentClient
from bench.harness import (
    add_common_options,
    bench_options,
    bench_parser,
    for_each_system,
    header,
    run,
)
from bench.stats import Summary, ms, table
from bench.stop_broker_down import broker_down_level, broker_pid
from bench.stops import ANSWER_TOKENS, PATIENCE_SECONDS, STOP_RANGE, Stop, Stopped, settle, stop_one
from bench.systems import System

Levels = dict[int, list[Stop]]


async def run_level(
    system: System, concurrency: int, stops: int, tokens: int, pace: float, *, wait: bool = True
) -> list[Stop]:
    """`stops` stops, `concurrency` runs streaming at any time; `wait`: see stops.settle."""
    await system.model.clear()
    stopped: list[Stopped] = []
    remaining = stops
    async with AgentClient(system.api_url, streams=concurrency) as client:

        async def slot() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                stopped.append(await stop_one(system, client, tokens, pace))

        async with asyncio.TaskGroup() as slots:  # a refused run stops the level (see run_batch)
            for _ in range(concurrency):
                slots.create_task(slot())
    return await settle(system, stopped, wait=wait)


async def measure(system: System, args: argparse.Namespace) -> Levels | str:
    async with AgentClient(system.api_url) as client:  # warm-up
        await settle(system, [await stop_one(system, client, args.answer_tokens, args.pace)])
    if args.broker_down:
        pid = broker_pid(system, args.broker_name)
        if pid is None:
            return "no broker in devstack.pids (devstack started none): --broker-down is a no-op"
        return {
            n: await broker_down_level(system, pid, n, args.stops, args.answer_tokens, args.pace)
            for n in args.concurrency
        }
    return {
        n: await run_level(system, n, args.stops, args.answer_tokens, args.pace)
        for n in args.concurrency
    }


def report(
    results: dict[str, Levels | str], systems: dict[str, str], args: argparse.Namespace
) -> None:
    title = "stop latency" + (" with the NATS broker stopped (SIGSTOP)" if args.broker_down else "")
    header(
        title,
        [
            f"POST /threads/{{t}}/runs/{{r}}/cancel?action=interrupt on a fresh connection, at a "
            f"random token {STOP_RANGE[0]}-{STOP_RANGE[1]} of a {args.answer_tokens}-token "
            f"answer at {args.pace:g} ms/token; {args.stops} stops per level",
            "disconnect = the scripted model sees the client hang up (p50/p95 of those that "
            "did); terminal = chatstop's `event: end`, the anchor's stream closing",
            "never closed = the model wrote its whole answer after the stop (a stop's slot "
            f"waits {PATIENCE_SECONDS:g} s for the model to see it, then starts its next run; "
            "calls still open are followed to their end once the level is done)",
            *systems.values(),
        ],
    )
    rows = []
    for name, levels in results.items():
        if isinstance(levels, str):
            print(f"   {name}: {levels}")
            continue
        rows += [_row(name, n, stops) for n, stops in levels.items()]
    if rows:
        columns = ["runs", "system", "disconnect p50", "p95", "terminal p50", "p95"]
        print(table([*columns, "never closed", "other outcomes"], rows))


def _row(name: str, concurrency: int, stops: list[Stop]) -> list[str]:
    closed = Summary.of([s.to_disconnect for s in stops if math.isfinite(s.to_disconnect)])
    terminal = Summary.of([s.to_terminal for s in stops])
    outcomes = collections.Counter(s.outcome for s in stops)
    lost = outcomes.pop("ran to the end", 0)
    outcomes.pop("closed", None)
    failed = sum(1 for s in stops if s.status is not None and s.status >= 400)
    other = ", ".join(f"{k} {v}" for k, v in outcomes.items())
    if failed:
        other += f"{', ' if other else ''}cancel HTTP >= 400: {failed}"
    return [
        str(concurrency), name, ms(closed.p50), ms(closed.p95), ms(terminal.p50),
        ms(terminal.p95), f"{lost} of {len(stops)}", other or "-",
    ]  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    systems: dict[str, str] = {}

    async def one(system: System) -> Levels | str:
        systems[system.name] = system.settings
        return await measure(system, args)

    only = ("chatstop",) if args.broker_down else ("chatstop", "anchor")
    report(await for_each_system(bench_options(args), one, only=only), systems, args)


def parser() -> argparse.ArgumentParser:
    p = bench_parser("python -m bench.stop_latency", __doc__)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 20], help="levels (N)")
    p.add_argument("--stops", type=int, default=60, help="stops per level")
    p.add_argument(
        "--answer-tokens", type=int, default=ANSWER_TOKENS, help="length of a stopped answer"
    )
    p.add_argument("--pace", type=float, default=20, help="ms per token")
    p.add_argument("--broker-down", action="store_true", help="freeze the NATS broker meanwhile")
    p.add_argument(
        "--broker-name",
        help="devstack.pids name of the process --broker-down freezes (default: broker or nats)",
    )
    add_common_options(p)
    return p


if __name__ == "__main__":
    run(main(parser().parse_args()))
