"""The scripted model as its own process, shared by chatstop and the anchor, and its log.

One model process serves both systems, so they stream from the same double at the same
pace, and its CPU is never counted as either server's. `/_scripted/log` tells when each
token was written (`token_times`) and whether the client hung up (`disconnected`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.processes import launch, stop_group, wait_http
from devstack.isolated import free_port

logger = logging.getLogger("bench")

LogEntry = dict[str, Any]


@dataclass
class ScriptedModel:
    port: int
    pid: int
    proc: asyncio.subprocess.Process | None = None
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))
    """One client for every log query. Building one costs 20 ms of CPU (its TLS context
    loads the CA bundle), which blocked the benchmark's event loop each time a slot polled
    for its stop: stops other slots sent meanwhile went out late and counted as slow."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    async def log(self, contains: str) -> list[LogEntry]:
        """Every request whose messages mention `contains`, in arrival order."""
        try:
            response = await self.http.get(
                f"{self.url}/_scripted/log", params={"contains": contains}
            )
        except httpx.ConnectError as exc:
            if (gone := self._gone()) is not None:
                raise gone from exc
            raise
        response.raise_for_status()
        return list(response.json())

    def _gone(self) -> RuntimeError | None:
        """Say so plainly when the model process died (-9: killed from outside)."""
        if self.proc is None or self.proc.returncode is None:
            return None
        return RuntimeError(f"the scripted model (pid {self.pid}) exited: {self.proc.returncode}")

    async def clear(self) -> None:
        """Forget earlier requests: each `?contains=` query scans the whole log, and a log
        of thousands of answers would make those scans cost the model real CPU."""
        (await self.http.delete(f"{self.url}/_scripted/log")).raise_for_status()

    async def closed_call(self, marker: str, *, within: float) -> LogEntry | None:
        """The last request mentioning `marker` once its stream has ended (polled: the
        model records the end when it notices it), or None if it is still open."""
        deadline = time.monotonic() + within
        delay = 0.05
        while True:
            calls = await self.log(marker)
            if calls and calls[-1]["end"] is not None:
                return calls[-1]
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


def mentions(entry: LogEntry, marker: str) -> bool:
    """Whether a logged request's messages contain `marker` (to match calls to runs)."""
    return any(marker in str(m.get("content")) for m in entry.get("messages") or [])


@contextlib.asynccontextmanager
async def scripted_model(root: Path, logs: Path) -> AsyncIterator[ScriptedModel]:
    port = free_port()
    argv = [sys.executable, "-m", "devstack.scripted_model", "--host", "127.0.0.1"]
    proc = await launch([*argv, "--port", str(port)], cwd=root, log=logs / "model.log")
    try:
        model = ScriptedModel(port=port, pid=proc.pid, proc=proc)
        await wait_http(f"{model.url}/healthz", proc, logs / "model.log", within=60)
        logger.info("scripted model at %s (pid %d)", model.url, proc.pid)
        try:
            yield model
        finally:
            await model.http.aclose()
    finally:
        await stop_group(proc)
