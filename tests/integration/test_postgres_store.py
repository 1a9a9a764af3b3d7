"""Thread state in Postgres (store.backend: postgres): a real, throwaway PostgreSQL cluster,
and a turn whose messages the worker commits there and the next turn reads back."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.isolated import free_port
from devstack.scripted_model.runner import RunningScriptedModel
from stores.thread_store import open_thread_store
from tests.support import running_rig

pytestmark = pytest.mark.integration

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(*argv: str) -> list[str]:
    # PostgreSQL refuses to run as root; tests (and CI) run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not PG_BIN:
        pytest.skip("PostgreSQL server binaries not installed (make test installs them)")
    bin_dir = Path(PG_BIN[-1])
    # Not pytest's tmp dir: it is private to root, and the server runs as postgres.
    data = Path(tempfile.mkdtemp(prefix="chatstop-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    # The server gets its own log file: inheriting our pipes would keep them open forever.
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log")]
    subprocess.run(
        _as_postgres(*pg_ctl, "-o", options, "-w", "start"),
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres(*pg_ctl, "-m", "immediate", "stop"),
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_settings(settings: Settings, postgres_url: str) -> Settings:
    store = settings.store.model_copy(update={"backend": "postgres", "postgres_url": postgres_url})
    return settings.model_copy(update={"store": store})


async def test_turns_commit_to_and_read_from_postgres(
    dev_server: WorkflowEnvironment,
    pg_settings: Settings,
    scripted_model: RunningScriptedModel,
    marker: str,
) -> None:
    thread = str(uuid.uuid4())
    async with running_rig(dev_server.client, pg_settings, scripted_model) as rig:
        for text in (f"[tokens=3] one {marker}", f"[tokens=3] two {marker}"):
            await (await rig.start(text, thread_id=thread)).result()
    async with open_thread_store(pg_settings) as store:  # a fresh connection: really stored
        messages = await store.messages(thread)
    assert [m["type"] for m in messages] == ["human", "ai", "human", "ai"]
    second_call = scripted_model.request_log.snapshot(contains=marker)[-1]
    assert [m["role"] for m in second_call["messages"]][-3:] == ["user", "assistant", "user"]
