"""Temporal actions and history events per chat turn (chatstop only).

    python -m bench.temporal_cost [--tokens 60 500 3000] [--pace 20]

Each case is one turn on a fresh thread with nothing else running: answers of each
--tokens length, a turn with two tool calls, and a turn stopped at token 50 of a long answer.
Actions: the dev server's Prometheus counter `action` (every action_type; the server's own
temporal_system namespace left out), read before and after the turn once the server is
quiet: the counter and the thread's histories have not moved for a while (polled).
History events: every workflow execution carrying the turn's ThreadId search attribute,
each history fetched; counted as growth over the turn, so a per-thread workflow that
outlives turns counts only this turn's events.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
import uuid
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

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
from bench.stats import table
from bench.systems import System

QUIET_SECONDS = 1.5
"""Nothing moved for this long: the turn's work is done (a timer firing later would not be
caught, but a turn sets none)."""
QUIET_WITHIN = 120.0
STOP_AT = 50

Histories = dict[str, int]
"""{workflow id/run id: history length}"""


@dataclass(frozen=True)
class Case:
    label: str
    short: str
    """Column heading in the breakdowns."""
    prompt: str
    stop_at: int | None = None


@dataclass
class Cost:
    case: Case
    actions: collections.Counter[str]
    events: int
    workflows: int
    seconds: float
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)


def cases(tokens: list[int], pace: float) -> list[Case]:
    tools = "".join(f"[tool=search_docs {json.dumps({'query': q})}]" for q in ("stop", "undo"))
    longest = max(tokens)
    return [
        *(
            Case(f"{n:,}-token answer", f"{n:,} tok", f"[tokens={n}][pace={pace:g}]")
            for n in tokens
        ),
        Case("2 tool calls + 60-token answer", "2 tools", f"{tools}[tokens=60][pace={pace:g}]"),
        Case(
            f"stopped at token {STOP_AT} of a {longest:,}-token answer",
            "stopped",
            f"[tokens={longest}][pace={pace:g}]",
            stop_at=STOP_AT,
        ),
    ]


async def histories(temporal: Client, thread: str) -> Histories:
    found: Histories = {}
    async for execution in temporal.list_workflows(f'ThreadId="{thread}"'):
        handle = temporal.get_workflow_handle(execution.id, run_id=execution.run_id)
        found[f"{execution.id}/{execution.run_id}"] = (await handle.describe()).history_length
    return found


async def quiet(
    system: ChatstopSystem, temporal: Client, thread: str
) -> tuple[collections.Counter[str], Histories]:
    """Actions and histories once neither has changed for QUIET_SECONDS."""
    last, since = None, time.monotonic()
    deadline = since + QUIET_WITHIN
    while time.monotonic() < deadline:
        now = (await system.actions(), await histories(temporal, thread))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET_SECONDS:
            return now
        await asyncio.sleep(0.2)
    raise TimeoutError(f"Temporal still busy after {QUIET_WITHIN:.0f} s")


async def event_kinds(temporal: Client, keys: list[str]) -> collections.Counter[str]:
    kinds: collections.Counter[str] = collections.Counter()
    for key in keys:
        workflow_id, run_id = key.rsplit("/", 1)
        handle = temporal.get_workflow_handle(workflow_id, run_id=run_id)
        async for event in handle.fetch_history_events():
            kinds[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
    return kinds


async def measure_case(system: ChatstopSystem, temporal: Client, case: Case) -> Cost:
    async with AgentClient(system.api_url, streams=1) as client:
        thread = await client.create_thread()
        actions_before, before = await quiet(system, temporal, thread)
        started = time.monotonic()
        prompt = f"{case.prompt} {uuid.uuid4().hex}"
        await client.stream(Turn(thread), prompt, stop_at=case.stop_at)
        seconds = time.monotonic() - started
    actions_after, after = await quiet(system, temporal, thread)
    kinds = await event_kinds(temporal, list(after))
    return Cost(
        case=case,
        actions=actions_after - actions_before,
        events=sum(after.values()) - sum(before.values()),
        workflows=len(after),
        seconds=seconds,
        kinds=kinds,
    )


async def measure(system: System, tokens: list[int], pace: float) -> list[Cost]:
    assert isinstance(system, ChatstopSystem)
    temporal = await Client.connect(system.temporal_address)
    await measure_case(system, temporal, Case("warm-up", "warm-up", "[tokens=5]"))
    return [await measure_case(system, temporal, case) for case in cases(tokens, pace)]


def report(costs: list[Cost], settings: str, pace: float) -> None:
    header(
        "Temporal actions and history events per turn (chatstop only)",
        [
            f"one turn at a time on a fresh thread, {pace:g} ms/token, nothing else running; "
            "actions = the dev server's `action` counter, temporal_system namespace excluded",
            "events = history events of every workflow with the turn's ThreadId",
            settings,
        ],
    )
    rows = [
        [c.case.label, f"{sum(c.actions.values()):,}", f"{c.events:,}", str(c.workflows),
         f"{c.seconds:.1f} s"]
        for c in costs
    ]  # fmt: skip
    print(table(["turn", "actions", "history events", "workflows", "turn time"], rows))
    print("\n   actions by action_type")
    print(_breakdown("action_type", [c.actions for c in costs], costs))
    print(
        "\n   history events by type (of the workflows with the turn's ThreadId, whole histories)"
    )
    print(_breakdown("event type", [c.kinds for c in costs], costs))


def _breakdown(what: str, counts: list[collections.Counter[str]], costs: list[Cost]) -> str:
    """One row per kind, one column per turn, biggest kinds first."""
    total: collections.Counter[str] = sum(counts, collections.Counter())
    rows = [[kind, *(f"{c[kind]:,}" for c in counts)] for kind, _ in total.most_common()]
    return table([what, *(c.case.short for c in costs)], rows)


async def main(args: argparse.Namespace) -> None:
    settings: list[str] = []

    async def one(system: System) -> list[Cost]:
        settings.append(system.settings)
        return await measure(system, args.tokens, args.pace)

    results = await for_each_system(bench_options(args), one, only=("chatstop",))
    if "chatstop" in results:
        report(results["chatstop"], settings[0], args.pace)


def parser() -> argparse.ArgumentParser:
    p = bench_parser("python -m bench.temporal_cost", __doc__)
    p.add_argument("--tokens", type=int, nargs="+", default=[60, 500, 3000], help="answers")
    p.add_argument("--pace", type=float, default=20, help="ms per token")
    add_common_options(p)
    return p


if __name__ == "__main__":
    run(main(parser().parse_args()))
