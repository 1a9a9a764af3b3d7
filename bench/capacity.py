"""Capacity: the most concurrent 50-token/s streams a system serves within both targets.

    python -m bench.capacity [--levels 20 40 60 ...] [--token-p95 150] [--stop-p95 100]

Per level N: (1) N answers of --tokens tokens at --pace ms stream at once, giving the token
latency p95 (bench.throughput's batch); (2) N runs stream at once and each is stopped at a
random token 3-150, giving the stop -> upstream disconnect p95, where a stop that never
reached the model counts as infinitely late (bench.stop_latency's level). A level passes
when both p95s are within target. Levels rise until one fails; if the first one fails they
fall by halving until one passes, so there is a figure either way. A level where the
system refuses a run as overloaded (503 or 429) fails, with the refusal in its row. The
benchmark client shares the machine, and its own lag counts against both systems alike.
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass

import httpx

from bench.harness import (
    add_common_options,
    bench_options,
    bench_parser,
    for_each_system,
    header,
    run,
)
from bench.stats import Summary, ms, percentile, table
from bench.stop_latency import run_level
from bench.stops import ANSWER_TOKENS, PATIENCE_SECONDS, Stop
from bench.systems import System
from bench.throughput import Batch, run_batch

logger = logging.getLogger("bench")

MIN_STOPS = 20
OVERLOADED = frozenset({429, 503})


@dataclass
class Level:
    streams: int
    batch: Batch
    stops: list[Stop]
    refused: str = ""
    """Why the system refused a run at this level (overloaded); such a level fails."""

    @property
    def token_p95(self) -> float:
        return percentile(self.batch.latencies, 95)

    @property
    def stop_p95(self) -> float:
        return percentile([s.to_disconnect for s in self.stops], 95)

    def passes(self, args: argparse.Namespace) -> bool:
        if self.refused:
            return False
        return self.token_p95 <= args.token_p95 and self.stop_p95 <= args.stop_p95


async def measure_level(system: System, streams: int, args: argparse.Namespace) -> Level:
    try:
        level = await _measured(system, streams, args)
    except* httpx.HTTPStatusError as failures:
        statuses = {leaf.response.status_code for leaf in _leaves(failures)}
        if not statuses <= OVERLOADED:
            raise  # anything else is a defect to see, not a capacity figure
        refused = f"refused ({', '.join(map(str, sorted(statuses)))})"
        level = Level(streams, Batch(streams, args.tokens, args.pace), [], refused)
    logger.info(
        "%s: %d streams %s (token p95 %s, stop p95 %s) %s",
        system.name, streams, "pass" if level.passes(args) else "FAIL",
        ms(level.token_p95), ms(level.stop_p95), level.refused,
    )  # fmt: skip
    return level


async def _measured(system: System, streams: int, args: argparse.Namespace) -> Level:
    batch = await run_batch(system, streams, args.tokens, args.pace)
    # At least MIN_STOPS for a p95 worth the name; without waiting for lost stops' answers to
    # end: a stop the model has not seen after PATIENCE fails the level anyway.
    count = max(streams, MIN_STOPS)
    stops = await run_level(system, streams, count, args.answer_tokens, args.pace, wait=False)
    return Level(streams, batch, stops)


def _leaves(group: BaseExceptionGroup[httpx.HTTPStatusError]) -> list[httpx.HTTPStatusError]:
    """The failures of a task group, its nested groups flattened."""
    leaves: list[httpx.HTTPStatusError] = []
    for failure in group.exceptions:
        if isinstance(failure, BaseExceptionGroup):
            leaves += _leaves(failure)
        else:
            leaves.append(failure)
    return leaves


async def search(system: System, args: argparse.Namespace) -> list[Level]:
    await run_batch(system, 1, 10, args.pace)  # warm-up
    levels: list[Level] = []
    for streams in sorted(args.levels):
        levels.append(await measure_level(system, streams, args))
        if not levels[-1].passes(args):
            break
    streams = min(args.levels) // 2
    while not any(level.passes(args) for level in levels) and streams >= 1:
        levels.append(await measure_level(system, streams, args))
        streams //= 2
    return sorted(levels, key=lambda level: level.streams)


def capacity(levels: list[Level], args: argparse.Namespace) -> str:
    passing = [level.streams for level in levels if level.passes(args)]
    failing = [level.streams for level in levels if not level.passes(args)]
    if not passing:
        return f"below {min(failing)} streams"
    best = max(passing)
    above = [n for n in failing if n > best]
    return f"{best} streams" + (f" ({min(above)} fails)" if above else " (highest level tried)")


def report(
    results: dict[str, list[Level]], systems: dict[str, str], args: argparse.Namespace
) -> None:
    header(
        f"capacity: concurrent {1000 / args.pace:g}-token/s streams with token p95 <= "
        f"{args.token_p95:g} ms and stop p95 (to upstream disconnect) <= {args.stop_p95:g} ms",
        [
            f"per level N: N answers x {args.tokens} tokens at once, then max(N, {MIN_STOPS}) "
            f"stops with N runs at once, each at a random token 3-150 of a "
            f"{args.answer_tokens}-token answer; a stop "
            f"the model has not seen {PATIENCE_SECONDS:g} s later counts as infinitely late; "
            "others' load = the rest of the machine during the token phase, % of one core (noise)",
            *systems.values(),
        ],
    )
    rows = [_row(name, level, args) for name, levels in results.items() for level in levels]
    columns = ["system", "streams", "token p50", "token p95", "TTFT p95", "stop p50"]
    print(table([*columns, "stop p95", "never closed", "others' load", "verdict"], rows))
    for name, levels in results.items():
        print(f"   {name} capacity: {capacity(levels, args)}")


def _row(name: str, level: Level, args: argparse.Namespace) -> list[str]:
    tokens = Summary.of(level.batch.latencies)
    stops = Summary.of([s.to_disconnect for s in level.stops])
    lost = sum(1 for s in level.stops if not math.isfinite(s.to_disconnect))
    verdict = "pass" if level.passes(args) else f"FAIL {level.refused}".strip()
    return [
        name, str(level.streams), ms(tokens.p50), ms(tokens.p95),
        ms(percentile(level.batch.first_token, 95)), ms(stops.p50), ms(stops.p95),
        f"{lost} of {len(level.stops)}", _load(level),
        verdict,
    ]  # fmt: skip


def _load(level: Level) -> str:
    return "-" if level.refused else f"{level.batch.other_load:.0%}"


async def main(args: argparse.Namespace) -> None:
    systems: dict[str, str] = {}

    async def one(system: System) -> list[Level]:
        systems[system.name] = system.settings
        return await search(system, args)

    report(await for_each_system(bench_options(args), one), systems, args)


def parser() -> argparse.ArgumentParser:
    p = bench_parser("python -m bench.capacity", __doc__)
    p.add_argument(
        "--levels", type=int, nargs="+", default=[20, 40, 60, 80, 100, 120, 140, 160, 200]
    )
    p.add_argument("--token-p95", type=float, default=150, help="target, ms")
    p.add_argument("--stop-p95", type=float, default=100, help="target, ms")
    p.add_argument("--tokens", type=int, default=300, help="answer length of the token phase")
    p.add_argument(
        "--answer-tokens", type=int, default=ANSWER_TOKENS, help="length of a stopped answer"
    )
    p.add_argument("--pace", type=float, default=20, help="ms per token (20 = 50 tokens/s)")
    add_common_options(p)
    return p


if __name__ == "__main__":
    run(main(parser().parse_args()))
