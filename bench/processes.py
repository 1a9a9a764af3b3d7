"""Starting and stopping the servers under test as process groups of their own.

Each server runs in its own session, so stopping its group also stops whatever it started
(the devstack's children, a reloader), and Ctrl-C on the benchmark reaches only us.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


async def launch(
    argv: list[str], *, cwd: Path, log: Path, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start `argv` in a new session with its output in `log`."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


async def wait_http(url: str, proc: asyncio.subprocess.Process, log: Path, within: float) -> None:
    """Until `url` answers 200; fail fast if the process died."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"{proc.pid} exited with {proc.returncode}; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {within:.0f} s; see {log}")


async def stop_group(
    proc: asyncio.subprocess.Process, signum: int = signal.SIGINT, grace: float = 60
) -> None:
    """Ask the group to stop (SIGINT, as Ctrl-C would), then kill whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
