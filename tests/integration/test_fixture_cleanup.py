"""The tests' own servers go when the tests go: a pytest killed mid-run (a CI timeout,
Ctrl-C twice) must not leave a nats-server running on the machine."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from tests.fixtures.nats import started_server

    async def main():
        async with started_server() as server:
            print(server._proc.pid, flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status waits to be read


async def test_a_killed_test_process_takes_its_nats_server_with_it() -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    server_pid = 0
    try:
        assert holder.stdout is not None
        server_pid = int(await holder.stdout.readline())
        assert _alive(server_pid)
        holder.kill()  # SIGKILL: no finalizer runs
        await holder.wait()

        async def gone() -> bool:
            return not _alive(server_pid)

        await eventually(gone, within=10, what="the nats-server exited with its test process")
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        if server_pid and _alive(server_pid):  # the test failed: leave nothing behind
            os.killpg(server_pid, signal.SIGKILL)
