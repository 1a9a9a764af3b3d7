"""Runs an isolated copy of the whole stack as separate processes, as in production
(Temporal dev server, worker, API, scripted model), and the statistics the benchmarks print."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core.settings import REPO_ROOT, load_settings
from devstack.isolated import free_port, isolated_env, isolated_ports

STARTUP_SECONDS = 180


@dataclass
class BenchStack:
    api_url: str
    model_url: str
    temporal_address: str
    metrics_url: str
    data_dir: Path

    async def model_log(self, marker: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            response = await http.get(
                f"{self.model_url}/_scripted/log", params={"contains": marker}
            )
            return list(response.json())

    async def heartbeat_rpcs(self) -> float:
        """RecordActivityTaskHeartbeat requests the workers sent so far (counted at the
        frontend; the history service counts each one again)."""
        async with httpx.AsyncClient() as http:
            text = (await http.get(self.metrics_url)).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("service_requests{")
            and 'operation="RecordActivityTaskHeartbeat"' in line
            and 'service_name="frontend"' in line
        )


async def _wait_ready(url: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"stack exited early; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"stack not ready after {STARTUP_SECONDS}s; see {log}")


@contextlib.asynccontextmanager
async def launched_stack() -> AsyncIterator[BenchStack]:
    data_dir = Path(tempfile.mkdtemp(prefix="chatstop-bench-"))
    ports = isolated_ports()
    metrics = free_port()
    env = isolated_env(data_dir, ports) | {"CHATSTOP_DEV_SERVER__METRICS_PORT": str(metrics)}
    log = data_dir / "stack.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "devstack", cwd=REPO_ROOT, env=env, stdout=out, stderr=out
        )
        try:
            api_url = f"http://127.0.0.1:{ports['api']}"
            await _wait_ready(f"{api_url}/ok", proc, log)
            yield BenchStack(
                api_url=api_url,
                model_url=f"http://127.0.0.1:{ports['model']}",
                temporal_address=f"127.0.0.1:{ports['grpc']}",
                metrics_url=f"http://127.0.0.1:{metrics}/metrics",
                data_dir=data_dir,
            )
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(proc.wait(), 60)
                except TimeoutError:
                    os.killpg(proc.pid, signal.SIGKILL)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(values: list[float]) -> str:
    return (
        f"n={len(values)}  p50={percentile(values, 50):.1f} ms  p95={percentile(values, 95):.1f} ms"
        f"  mean={statistics.fmean(values):.1f} ms  max={max(values):.1f} ms"
    )


def settings_line() -> str:
    s = load_settings()
    st = s.streaming
    return (
        f"flush {st.batch_interval_ms:g} ms growing +{st.batch_growth_ms_per_s:g} ms per s of "
        f"streaming up to {st.max_batch_interval_ms:g} ms; SSE poll cooldown "
        f"{st.poll_cooldown_ms:g} ms; heartbeat throttle {s.heartbeat.throttle_ms:g} ms"
    )


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}
