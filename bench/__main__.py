"""`python -m bench` (what `make bench` runs): every benchmark with its defaults, in turn.

Each benchmark launches fresh copies of the systems it measures, so one's leftovers (threads,
history, a lost stop still streaming) never weigh on the next. About 15 minutes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bench import approval_resume, capacity, load, stop_latency, temporal_cost, throughput
from bench.harness import add_common_options, bench_parser, run

Main = Callable[[argparse.Namespace], Coroutine[Any, Any, None]]

BENCHMARKS: dict[str, tuple[Callable[[], argparse.ArgumentParser], Main, list[str]]] = {
    "throughput": (throughput.parser, throughput.main, []),
    "stop_latency": (stop_latency.parser, stop_latency.main, []),
    # Fewer stops: with the broker down every run waits up to 10 s for a terminal event.
    "broker_down": (
        stop_latency.parser,
        stop_latency.main,
        ["--broker-down", "--concurrency", "1", "10", "--stops", "10"],
    ),
    "temporal_cost": (temporal_cost.parser, temporal_cost.main, []),
    "capacity": (capacity.parser, capacity.main, []),
    "load": (load.parser, load.main, []),
    "approval_resume": (approval_resume.parser, approval_resume.main, []),
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser("python -m bench", __doc__)
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    add_common_options(parser)
    return parser.parse_args(argv)


async def run_all(args: argparse.Namespace) -> None:
    common = ["--systems", *args.systems, "--chatstop-root", str(args.chatstop_root)]
    common += ["--anchor-jobs", str(args.anchor_jobs)]
    common += ["--split-worker"] if args.split_worker else []
    started = time.monotonic()
    for name in args.only:
        make_parser, main, extra = BENCHMARKS[name]
        began = time.monotonic()
        await main(make_parser().parse_args([*extra, *common]))
        print(f"({name}: {(time.monotonic() - began) / 60:.1f} min)")
    print(f"\n(all benchmarks: {(time.monotonic() - started) / 60:.1f} min)")


if __name__ == "__main__":
    run(run_all(parse()))
