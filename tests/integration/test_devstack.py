"""`python -m devstack` (what `make dev` runs) starts the whole stack and Ctrl-C stops all of it.

The launcher runs as a real subprocess with every port moved to a free ephemeral one and every
data file in a temporary folder, so the test never collides with a developer's `make dev`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from core.settings import REPO_ROOT, load_settings
from devstack.banner import BANNER_LAST_LINE
from devstack.isolated import free_port, isolated_env, isolated_ports
from devstack.launcher import APIS_FILE, PIDS_FILE
from devstack.nats_server import wait_for_nats
from devstack.processes import Child
from devstack.readiness import wait_for_temporal, wait_for_worker
from devstack.specs import temporal_spec
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.integration

STARTUP_DEADLINE = 150.0
STOP_DEADLINE = 45.0
"""Reverse-order shutdown: at most ~10 s grace per child, normally well under a second."""


def stack_env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    return isolated_env(data_dir, ports)


class Output:
    """Collects the launcher's merged stdout/stderr so waits and failures can show it."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._collect(stream))

    async def _collect(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()

    async def wait_for(self, text: str, within: float) -> None:
        async def seen() -> None:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: self._task.done() or any(text in line for line in self.lines)
                )

        try:
            await asyncio.wait_for(seen(), within)
        except TimeoutError:
            pytest.fail(f"no {text!r} after {within:.0f} s; launcher output:\n{self}")
        assert any(text in line for line in self.lines), f"launcher ended early:\n{self}"

    async def closed(self, within: float) -> None:
        """Until the launcher closed its output (it has exited)."""
        await asyncio.wait_for(self._task, within)

    def __str__(self) -> str:
        return "\n".join(self.lines[-80:])


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.asynccontextmanager
async def launched(
    env: dict[str, str], *args: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Output]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devstack", *args,
        cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        yield proc, Output(proc.stdout)
    finally:
        if proc.returncode is None:  # the test failed midway: SIGTERM is the polite stop
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), STOP_DEADLINE)


def read_pids(data_dir: Path) -> dict[str, int]:
    return dict(json.loads((data_dir / PIDS_FILE).read_text()))


def kill_groups(pids: list[int]) -> None:
    """Never leave a stray server behind a failed test."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


@pytest.mark.timeout(STARTUP_DEADLINE + STOP_DEADLINE + 30)
async def test_devstack_serves_every_service_with_two_apis_and_ctrl_c_leaves_no_process(
    tmp_path: Path,
) -> None:
    ports = isolated_ports()
    pids: dict[str, int] = {}
    async with launched(stack_env(tmp_path, ports), "--api-replicas", "2") as (proc, output):
        try:
            await output.wait_for(BANNER_LAST_LINE, within=STARTUP_DEADLINE)
            pids = read_pids(tmp_path)
            assert list(pids) == ["temporal", "broker", "model", "worker", "api", "api-2"]
            apis = json.loads((tmp_path / APIS_FILE).read_text())
            assert list(apis) == ["api", "api-2"]
            assert apis["api"] == f"http://127.0.0.1:{ports['api']}"
            assert f"API replica api-2  {apis['api-2']}/" in str(output)
            assert f"api-2 {pids['api-2']}" in str(output)  # the Processes row
            assert f"NATS JetStream at nats://127.0.0.1:{ports['broker']}" in str(output)
            assert f"kill -INT {pids['worker']}" in str(output)
            async with httpx.AsyncClient(timeout=5) as http:
                for url in apis.values():
                    ok = await http.get(f"{url}/ok")
                    assert (ok.status_code, ok.json()) == (200, {"ok": True}), url
                web_ui = await http.get(f"http://127.0.0.1:{ports['ui']}/")
                assert web_ui.status_code == 200
                health = await http.get(f"http://127.0.0.1:{ports['model']}/healthz")
                assert health.status_code == 200
            await wait_for_nats(f"nats://127.0.0.1:{ports['broker']}", within=5)
            assert (tmp_path / "nats" / "jetstream").is_dir()  # the store is in the data dir

            proc.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(proc.wait(), STOP_DEADLINE)
            assert code == 0, str(output)
            assert [name for name, pid in pids.items() if group_alive(pid)] == []
            assert not (tmp_path / PIDS_FILE).exists()
            assert not (tmp_path / APIS_FILE).exists()
        finally:
            kill_groups(list(pids.values()))


@pytest.mark.timeout(STARTUP_DEADLINE + STOP_DEADLINE + 90)
async def test_an_interrupted_worker_is_replaced_while_the_rest_stays_up(tmp_path: Path) -> None:
    ports = isolated_ports()
    settings = load_settings(temporal={"address": f"127.0.0.1:{ports['grpc']}"})
    seen: set[int] = set()
    async with launched(stack_env(tmp_path, ports)) as (proc, output):
        try:
            await output.wait_for(BANNER_LAST_LINE, within=STARTUP_DEADLINE)
            before = read_pids(tmp_path)
            seen.update(before.values())
            assert [name for name in before if name.startswith("api")] == ["api"]  # default: 1

            os.kill(before["worker"], signal.SIGINT)  # a rolling deploy, rehearsed

            def replaced() -> dict[str, int] | None:
                pids = read_pids(tmp_path)
                return pids if pids["worker"] != before["worker"] else None

            after = await eventually(replaced, within=60, what="a new worker pid in the pids file")
            seen.update(after.values())
            assert list(after) == list(before)
            assert {k: v for k, v in after.items() if k != "worker"} == {
                k: v for k, v in before.items() if k != "worker"
            }
            assert not group_alive(before["worker"])
            client = await wait_for_temporal(settings, within=10)
            await wait_for_worker(client, settings, within=60, pid=after["worker"])
            async with httpx.AsyncClient(timeout=5) as http:
                ok = await http.get(f"http://127.0.0.1:{ports['api']}/ok")
                assert ok.status_code == 200
            assert proc.returncode is None, str(output)
            assert f"worker (pid {before['worker']}) exited" in str(output)

            proc.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(proc.wait(), STOP_DEADLINE) == 0, str(output)
            assert [pid for pid in seen if group_alive(pid)] == []
        finally:
            kill_groups(list(seen))


@pytest.mark.parametrize(
    ("service", "env_var"), [("api", "CHATSTOP_API__PORT"), ("broker", "CHATSTOP_BROKER__DEV_PORT")]
)
async def test_devstack_refuses_to_start_on_a_busy_port_and_names_it(
    tmp_path: Path, service: str, env_var: str
) -> None:
    ports = isolated_ports()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[service]))
        squatter.listen()
        async with launched(stack_env(tmp_path, ports)) as (proc, output):
            code = await asyncio.wait_for(proc.wait(), 30)
            await output.closed(within=5)
    assert code == 1
    text = str(output)
    assert f"port {ports[service]} on 127.0.0.1 is already in use" in text
    assert env_var in text
    assert "started temporal" not in text  # the check runs before anything is launched


async def test_dev_server_restarts_on_the_same_history_file_with_its_search_attributes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grpc = free_port()
    monkeypatch.setenv("CHATSTOP_DEV_SERVER__GRPC_PORT", str(grpc))
    monkeypatch.setenv("CHATSTOP_DEV_SERVER__UI_PORT", str(free_port()))
    monkeypatch.setenv("CHATSTOP_DEV_SERVER__DB_FILE", str(tmp_path / "temporal.sqlite"))
    monkeypatch.setenv("CHATSTOP_TEMPORAL__ADDRESS", f"127.0.0.1:{grpc}")
    settings = load_settings()
    for _ in range(2):  # the second start re-registers attributes that already exist
        server = await Child.start(temporal_spec(settings), cwd=REPO_ROOT, env=os.environ)
        try:
            client = await wait_for_temporal(settings, within=60)
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=settings.temporal.namespace)
            )
            assert set(settings.dev_server.search_attributes) <= set(listed.custom_attributes)
        finally:
            await server.stop(grace_seconds=10)
        assert server.exited.result() == 0, "the dev server did not shut down cleanly"
