"""What every benchmark shares: its command line, a session folder for logs and data, the
scripted model, and the systems under test, launched one after the other.

Never both at once: each system is measured alone on the machine (with only the shared
scripted model and the client beside it), so neither pays for the other's idle processes.
Each benchmark measures chatstop and then the anchor within minutes of each other, which is
as close to "the same conditions" as a noisy shared 2-core machine allows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench import anchor_stack, procstat
from bench.chatstop_stack import chatstop
from bench.scripted import ScriptedModel, scripted_model
from bench.systems import System

logger = logging.getLogger("bench")

R = TypeVar("R")

REPO_ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("chatstop", "anchor")
CALM_LOAD = 0.3
"""Cores that other work may keep busy before a system is launched and measured."""
CALM_WAIT = 10.0
"""How long to wait for the machine to calm down; measured anyway after that (the figures
print the others' load next to them)."""


@dataclass(frozen=True)
class BenchOptions:
    systems: tuple[str, ...] = SYSTEMS
    chatstop_root: Path = REPO_ROOT
    """The checkout whose code the chatstop stack runs (another one compares commits)."""
    anchor_jobs: int = anchor_stack.DEFAULT_JOBS
    api_replicas: int = 1
    """chatstop's API processes (the anchor always runs one)."""
    split_worker: bool = False
    """chatstop's workflow tasks and calls in two worker processes (devstack --split-worker)."""


def bench_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's command line, its module docstring as the help text, kept as written."""
    return argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_common_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("systems under test")
    group.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    group.add_argument(
        "--chatstop-root",
        type=Path,
        default=REPO_ROOT,
        help="run the chatstop stack from this checkout (default: this one)",
    )
    group.add_argument(
        "--anchor-jobs",
        type=int,
        default=anchor_stack.DEFAULT_JOBS,
        help="langgraph dev --n-jobs-per-worker (default %(default)s)",
    )
    group.add_argument(
        "--split-worker",
        action="store_true",
        help="run chatstop's workflow tasks and model/tool calls in two worker processes",
    )


def bench_options(args: argparse.Namespace) -> BenchOptions:
    return BenchOptions(
        systems=tuple(args.systems),
        chatstop_root=args.chatstop_root.resolve(),
        anchor_jobs=args.anchor_jobs,
        split_worker=args.split_worker,
    )


async def for_each_system(
    opts: BenchOptions,
    measure: Callable[[System], Awaitable[R]],
    *,
    only: tuple[str, ...] = SYSTEMS,
) -> dict[str, R]:
    """Launch each selected system in turn and measure it; {system name: result}."""
    results: dict[str, R] = {}
    with _session_dir() as session:
        async with scripted_model(opts.chatstop_root, session) as model:
            for name in opts.systems:
                if name not in only:
                    logger.info("%s: not measured by this benchmark", name)
                    continue
                if name == "anchor" and (why := anchor_stack.unavailable()):
                    logger.warning("anchor skipped: %s", why)
                    continue
                await _calm()
                workdir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=session))
                async with _launched(name, model, opts, workdir) as system:
                    logger.info("%s: up at %s", name, system.api_url)
                    results[name] = await measure(system)
    return results


async def _calm() -> None:
    """On a shared machine, wait a little for other tenants' bursts (a test suite, a
    build) to pass before measuring; nothing of ours is running yet but the idle model."""
    waited = 0.0
    while (load := await procstat.machine_load()) > CALM_LOAD and waited < CALM_WAIT:
        waited += 1.0
    logger.info("machine load before launching: %.2f cores (waited %.0f s)", load, waited)


@contextlib.asynccontextmanager
async def _launched(
    name: str, model: ScriptedModel, opts: BenchOptions, workdir: Path
) -> AsyncIterator[System]:
    if name == "chatstop":
        async with chatstop(
            model,
            opts.chatstop_root,
            workdir,
            opts.api_replicas,
            split_worker=opts.split_worker,
        ) as system:
            yield system
    else:
        async with anchor_stack.anchor(model, workdir, opts.anchor_jobs) as anchor:
            yield anchor


@contextlib.contextmanager
def _session_dir() -> Iterator[Path]:
    """Logs and data of one benchmark run; kept only if it failed, to read what happened."""
    path = Path(tempfile.mkdtemp(prefix="chatstop-bench-"))
    try:
        yield path
    except BaseException:
        logger.error("logs and data kept in %s", path)
        raise
    shutil.rmtree(path, ignore_errors=True)


def run(main: Coroutine[Any, Any, None]) -> None:
    """Entry point of every benchmark: progress on stderr, figures on stdout."""
    logging.basicConfig(
        level=logging.INFO, format="[bench %(asctime)s] %(message)s", datefmt="%H:%M:%S",
        stream=sys.stderr,
    )  # fmt: skip
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(main)


def header(title: str, lines: list[str]) -> None:
    """A figure's title and its settings, wrapped to a readable width."""
    print(f"\n== {title}")
    for line in lines:
        print(textwrap.fill(line, 100, initial_indent="   ", subsequent_indent="     "))


def say(text: str, *, blank: bool = False, indent: str = "   ") -> None:
    """One paragraph of a report, wrapped like the settings under a header."""
    wrapped = textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent + "  ")
    print(("\n" if blank else "") + wrapped)
