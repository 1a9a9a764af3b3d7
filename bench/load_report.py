"""What the scale-out load measured, and how it is printed: throughput, stops, each server
process's CPU and memory, the machine's other load, and every check with its findings."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

from bench import procstat
from bench.chatstop_stack import ChatstopSystem
from bench.harness import header, say
from bench.load_checks import SHOWN, Check, Evidence, answer_call
from bench.load_stops import print_stops
from bench.load_workload import LoadRun, LoadSettings
from bench.stats import Summary, table

MIB = 1024 * 1024


@dataclass
class Usage:
    """CPU seconds of every server tree, the model and this client, and the machine's busy
    time; between two readings, the difference (the servers read once quiet again)."""

    servers: dict[str, float]
    model: float
    client: float
    launcher: float
    machine: float
    at: float
    peak_rss: dict[str, int] = field(default_factory=dict)

    @classmethod
    async def read(cls, system: ChatstopSystem) -> Usage:
        servers = await procstat.settled(system.server_roots())
        model, client = procstat.cpu_seconds(system.model.pid), procstat.own_cpu()
        launcher = procstat.cpu_seconds(system.launcher_pid)
        return cls(servers, model, client, launcher, procstat.machine_busy(), time.monotonic())

    @classmethod
    def between(cls, before: Usage, after: Usage, system: ChatstopSystem) -> Usage:
        servers = {k: v - before.servers.get(k, 0.0) for k, v in after.servers.items()}
        return cls(
            servers=servers,
            model=after.model - before.model,
            client=after.client - before.client,
            launcher=after.launcher - before.launcher,
            machine=after.machine - before.machine,
            at=after.at - before.at,
            peak_rss=procstat.tree_peak_rss(system.server_roots()),
        )

    @property
    def others(self) -> float:
        """CPU seconds the rest of the machine used meanwhile: other tenants' noise."""
        ours = sum(self.servers.values()) + self.model + self.client + self.launcher
        return max(0.0, self.machine - ours)


@dataclass
class LoadResult:
    settings: LoadSettings
    system_settings: str
    api_urls: list[str]
    runs: list[LoadRun]
    wall: float
    usage: Usage
    checks: list[Check]
    evidence: Evidence


def report(result: LoadResult, target: float, seconds: float) -> None:
    s, usage = result.settings, result.usage
    header(
        "scale-out load: runs through API replicas, a third stopped (chatstop only)",
        [
            s.line(len(result.api_urls)),
            result.system_settings,
            f"machine: {os.cpu_count()} cores; others' load (the rest of the machine while "
            f"measured): {usage.others / usage.at:.0%} of a core",
        ],
    )
    _throughput(result)
    print_stops(result.runs, result.evidence, target)
    _processes(usage)
    _checks(result.checks)
    print(f"\n   (load benchmark: {seconds / 60:.1f} min with start-up and checks)")


def _throughput(result: LoadResult) -> None:
    s, runs = result.settings, result.runs
    ideal = s.runs_per_thread * s.answer_seconds
    outcomes = Counter(r.turn.outcome or "no end" for r in runs)
    say(
        f"throughput: {len(runs)} turns in {result.wall:.1f} s = "
        f"{len(runs) / result.wall * 60:,.0f} turns/min (a thread's {s.runs_per_thread} "
        f"answers alone take {ideal:g} s: {len(runs) / ideal * 60:,.0f}/min if nothing "
        f"waited); outcomes {dict(outcomes)}",
        blank=True,
    )
    latencies = [
        (got - wrote) * 1000
        for r in runs
        if r.turn.outcome == "completed"
        and (call := answer_call(result.evidence.calls.get(r.marker, [])))
        for got, wrote in zip(r.turn.token_times, call["token_times"], strict=False)
    ]
    say(f"token latency (model write -> client receive): {Summary.of(latencies).line()}")


def _processes(usage: Usage) -> None:
    say(
        f"CPU (utime+stime of each process tree, /proc) over {usage.at:.1f} s, from just "
        "before the load until the servers were quiet again; % of one core over that time; "
        "peak RSS = VmHWM, the most resident since the process started",
        blank=True,
    )
    rows = [
        [
            name,
            f"{cpu:.2f} s",
            f"{cpu / usage.at:.0%}",
            f"{usage.peak_rss.get(name, 0) / MIB:,.0f} MiB",
        ]
        for name, cpu in usage.servers.items()
    ]
    rows.append(
        [
            "scripted model (not chatstop)",
            f"{usage.model:.2f} s",
            f"{usage.model / usage.at:.0%}",
            "-",
        ]
    )
    rows.append(["this client", f"{usage.client:.2f} s", f"{usage.client / usage.at:.0%}", "-"])
    launcher = usage.launcher
    rows.append(
        ["devstack launcher (log relay)", f"{launcher:.2f} s", f"{launcher / usage.at:.0%}", "-"]
    )
    rows.append(["others' load", f"{usage.others:.2f} s", f"{usage.others / usage.at:.0%}", "-"])
    print(table(["process", "CPU", "% of a core", "peak RSS"], rows))


def _checks(checks: list[Check]) -> None:
    passed = sum(c.ok for c in checks)
    print(f"\n   checks: {passed} of {len(checks)} passed")
    for check in checks:
        say(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.looked_at}")
        for failure in check.failures[:SHOWN]:
            say(f"- {failure}", indent="         ")
        if len(check.failures) > SHOWN:
            print(f"         ... and {len(check.failures) - SHOWN} more")
