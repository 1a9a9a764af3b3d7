"""chatstop under test: an isolated copy of the whole stack as separate processes, as in
production (Temporal dev server, worker, API and the NATS broker when devstack runs one), via
`python -m devstack` on free ports with every file in one temporary folder.

The scripted model is not the stack's own (`--no-model`): the benchmark's shared one answers,
so chatstop and the anchor stream from the same process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.processes import launch, stop_group, wait_http
from bench.scripted import ScriptedModel
from bench.systems import System
from devstack.isolated import free_port, isolated_env, isolated_ports
from devstack.launcher import APIS_FILE, PIDS_FILE

STARTUP_SECONDS = 180
NOT_SERVERS = frozenset({"model"})
"""devstack.pids entries that are not chatstop's servers (the model is the benchmark's)."""
SYSTEM_NAMESPACE = "temporal_system"
"""The dev server's own bookkeeping workflows; their actions are not chatstop's."""
SETTINGS_SECTIONS = ("heartbeat", "streaming", "broker")
"""temporal-dev.yaml sections that shape the figures, printed with them when present."""
NOT_SETTINGS = (
    "url",
    "user",
    "password",
    "token",
    "creds",
    "tls",
    "port",
    "dir",
    "stream",
    "subject",
)
"""Keys that say where things are or what they are called, not how they behave: left out
of the printed settings."""
BROKER_NAMES = ("broker", "nats")
"""devstack.pids names the NATS broker may have."""


@dataclass
class ChatstopSystem(System):
    data_dir: Path
    temporal_address: str
    metrics_url: str
    api_urls: list[str] = field(default_factory=list)
    """Every API replica's base URL, `api_url` first."""
    launcher_pid: int = 0
    """`python -m devstack` itself: it relays every child's output (its own CPU is not a
    server's, but it is ours, not other tenants')."""

    def pids(self) -> dict[str, int]:
        """{name: pid} of the stack's processes (devstack writes it; each is a group id)."""
        return {k: int(v) for k, v in json.loads((self.data_dir / PIDS_FILE).read_text()).items()}

    def server_roots(self) -> dict[str, int]:
        return {name: pid for name, pid in self.pids().items() if name not in NOT_SERVERS}

    def broker_pid(self) -> int | None:
        pids = self.pids()
        return next((pids[name] for name in BROKER_NAMES if name in pids), None)

    async def actions(self) -> collections.Counter[str]:
        """The dev server's billable-action counter so far, by action_type."""
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(self.metrics_url)).text
        counts: collections.Counter[str] = collections.Counter()
        for line in text.splitlines():
            if line.startswith("action{") and f'namespace="{SYSTEM_NAMESPACE}"' not in line:
                labels, value = line.rsplit(" ", 1)
                kind = labels.split('action_type="', 1)[1].split('"', 1)[0]
                counts[kind] += int(float(value))
        return counts


def settings_line(root: Path) -> str:
    """The stack's streaming and heartbeat settings, read raw from its temporal-dev.yaml so
    the line survives renamed keys."""
    config = _config(root)
    parts = [
        f"{section}.{key}={value}"
        for section in SETTINGS_SECTIONS
        for key, value in (config.get(section) or {}).items()
        if value is not None and not any(word in key for word in NOT_SETTINGS)
    ]
    return "chatstop (python -m devstack, Temporal dev server on SQLite): " + ", ".join(parts)


def _config(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "temporal-dev.yaml").read_text()) or {}


def stack_env(data_dir: Path, model: ScriptedModel) -> dict[str, str]:
    return isolated_env(data_dir, isolated_ports()) | {
        "CHATSTOP_DEV_SERVER__METRICS_PORT": str(free_port()),
        "CHATSTOP_SCRIPTED_MODEL__PORT": str(model.port),
    }


@contextlib.asynccontextmanager
async def chatstop(
    model: ScriptedModel,
    root: Path,
    data_dir: Path,
    api_replicas: int = 1,
    *,
    split_worker: bool = False,
) -> AsyncIterator[ChatstopSystem]:
    """The stack with `api_replicas` API processes (devstack --api-replicas), and its worker
    split in two (devstack --split-worker)."""
    env = stack_env(data_dir, model)
    log = data_dir / "stack.log"
    argv = [sys.executable, "-m", "devstack", "--no-model"]
    if api_replicas != 1:
        argv += ["--api-replicas", str(api_replicas)]
    if split_worker:
        argv += ["--split-worker"]
    proc = await launch(argv, cwd=root, log=log, env=env)
    pids: dict[str, int] = {}
    try:
        api_url = f"http://127.0.0.1:{env['CHATSTOP_API__PORT']}"
        await wait_http(f"{api_url}/ok", proc, log, STARTUP_SECONDS)
        api_urls = await _replicas(data_dir, api_url, api_replicas, proc, log)
        system = ChatstopSystem(
            name="chatstop",
            api_url=api_url,
            model=model,
            settings=settings_line(root) + (", split worker" if split_worker else ""),
            data_dir=data_dir,
            temporal_address=env["CHATSTOP_TEMPORAL__ADDRESS"],
            metrics_url=f"http://127.0.0.1:{env['CHATSTOP_DEV_SERVER__METRICS_PORT']}/metrics",
            api_urls=api_urls,
            launcher_pid=proc.pid,
        )
        pids = system.pids()
        yield system
    finally:
        await stop_group(proc)
        if proc.returncode != 0:
            _kill_leftovers(pids)


async def _replicas(
    data_dir: Path, api_url: str, count: int, proc: asyncio.subprocess.Process, log: Path
) -> list[str]:
    """Every replica's URL once each answers (devstack writes them all before the first API
    starts, so the file is complete once `api_url` answers)."""
    if count == 1:
        return [api_url]
    urls = list(json.loads((data_dir / APIS_FILE).read_text()).values())
    for url in urls:
        await wait_http(f"{url}/ok", proc, log, STARTUP_SECONDS)
    return urls


def _kill_leftovers(pids: dict[str, int]) -> None:
    """devstack stops its children itself (each in its own group); if it did not exit
    cleanly, they may have outlived it."""
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
