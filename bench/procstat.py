"""CPU time and peak memory of process trees, read from /proc (Linux only).

A server is a root pid plus every process below it (a reloader's worker, a helper binary),
so each root's tree is summed. Time of a child that exited between two readings is lost;
the servers measured here keep their processes for their whole life.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:  # gone, or never existed
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            children[int(fields[1])].append(int(entry.name))
    return children


def tree(root: int, children: Mapping[int, list[int]] | None = None) -> set[int]:
    """`root` and all its descendants alive now."""
    children = _children_by_parent() if children is None else children
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 if it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # After the name: state, ppid, ... utime is field 14 of stat, stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def tree_cpu(roots: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named root's whole tree."""
    children = _children_by_parent()
    return {
        name: sum(cpu_seconds(pid) for pid in tree(root, children)) for name, root in roots.items()
    }


def peak_rss(pid: int) -> int:
    """The most memory (bytes) the process has held resident since it started (VmHWM); 0
    if it is gone."""
    try:
        status = (_PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # reported in kB
    return 0


def tree_peak_rss(roots: Mapping[str, int]) -> dict[str, int]:
    """Each named root's tree: the sum of its processes' own peaks (an upper bound of the
    tree's peak, as the processes need not have peaked at once; exact for one process)."""
    children = _children_by_parent()
    return {
        name: sum(peak_rss(pid) for pid in tree(root, children)) for name, root in roots.items()
    }


def own_cpu() -> float:
    """CPU seconds of this (the client) process, for context next to the server's."""
    times = os.times()
    return times.user + times.system


async def settled(
    roots: Mapping[str, int], *, quiet: float = 0.05, window: float = 0.25, within: float = 10
) -> dict[str, float]:
    """The trees' CPU once they have gone quiet (below `quiet` of a core over `window`), so
    the work a batch leaves behind (commits, workflow completion) is counted with it."""
    deadline = time.monotonic() + within
    before = tree_cpu(roots)
    while True:
        await asyncio.sleep(window)
        now = tree_cpu(roots)
        if sum(now.values()) - sum(before.values()) < quiet * window:
            return now
        if time.monotonic() > deadline:
            return now
        before = now


def machine_busy() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat), to tell how much of a
    batch's machine time went to processes that are neither servers, model nor client."""
    fields = (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


async def machine_load(window: float = 1.0) -> float:
    """Cores busy over the next `window` seconds, whoever is busy."""
    before = machine_busy()
    await asyncio.sleep(window)
    return (machine_busy() - before) / window
