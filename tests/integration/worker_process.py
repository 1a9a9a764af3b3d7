"""Workers as real processes (`python -m worker`), so a test can shut one down gracefully
(SIGINT, what every deploy does), kill it (SIGKILL, a crash) and start another, while the
test process serves the API against the same Temporal, NATS and stores."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.settings import REPO_ROOT, Settings
from devstack.readiness import wait_for_http, wait_for_worker
from tests.support import TEST_GRAPHS

STARTUP_SECONDS = 60.0


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes `python -m worker` use exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSTOP_", "OPENAI_"))}
    for section in ("temporal", "broker", "heartbeat", "model", "store", "tools", "limits"):
        for key, value in getattr(settings, section).model_dump().items():
            if value is None:
                continue
            text = json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)
            env[f"CHATSTOP_{section.upper()}__{key.upper()}"] = text
    graphs = {**settings.graphs, **{ref.rsplit(":", 1)[1]: ref for ref in TEST_GRAPHS}}
    env["CHATSTOP_GRAPHS"] = json.dumps(graphs)
    env["PYTHONUNBUFFERED"] = "1"
    return env | extra


@dataclass
class WorkerProcess:
    proc: asyncio.subprocess.Process
    log: Path
    lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def shut_down(self) -> int:
        """SIGINT: the graceful shutdown of a deploy. Returns the exit code."""
        self.proc.send_signal(signal.SIGINT)
        return await asyncio.wait_for(self.proc.wait(), 60)

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@dataclass
class ApiProcess:
    proc: asyncio.subprocess.Process
    url: str
    log: Path

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()


@contextlib.asynccontextmanager
async def api_process(settings: Settings, log: Path, port: int) -> AsyncIterator[ApiProcess]:
    """`python -m api` on `port`, answering /ok before this returns."""
    env = settings_env(settings, CHATSTOP_API__PORT=str(port), CHATSTOP_API__HOST="127.0.0.1")
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api", cwd=REPO_ROOT, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    api = ApiProcess(proc, f"http://127.0.0.1:{port}", log)
    try:
        await wait_for_http(f"{api.url}/ok", what="API process", within=STARTUP_SECONDS)
        yield api
    finally:
        await api.kill()


@contextlib.asynccontextmanager
async def worker_process(
    client: Any, settings: Settings, log: Path, **extra_env: str
) -> AsyncIterator[WorkerProcess]:
    """A worker process that polls the settings' task queue before this returns; killed at
    the end of the block if still alive."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker",
            cwd=REPO_ROOT, env=settings_env(settings, **extra_env),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    worker = WorkerProcess(proc, log)
    try:
        await wait_for_worker(client, settings, STARTUP_SECONDS, pid=proc.pid)
        yield worker
    finally:
        await worker.kill()
