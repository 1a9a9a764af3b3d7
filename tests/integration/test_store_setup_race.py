"""Processes that open a fresh database at the same moment (two API replicas and a worker
starting together) all come up: schema setup is serialised across processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from multiprocessing.synchronize import Barrier
from pathlib import Path

import psycopg
import pytest

from core.settings import Settings, load_settings
from stores.kv_store import open_kv_store
from stores.record_store import open_record_store
from stores.thread_store import open_thread_store

pytestmark = pytest.mark.integration

PROCESSES = 6
ROUNDS = 2


def _open_every_store(settings: Settings, start_together: Barrier) -> None:
    async def open_all() -> None:
        start_together.wait()
        async with (
            open_record_store(settings),
            open_thread_store(settings),
            open_kv_store(settings),
        ):
            pass

    asyncio.run(open_all())


def _failed_processes(settings: Settings) -> int:
    spawn = multiprocessing.get_context("spawn")
    start_together = spawn.Barrier(PROCESSES)
    processes = [
        spawn.Process(target=_open_every_store, args=(settings, start_together))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    return sum(process.exitcode != 0 for process in processes)


def _sqlite_settings(folder: Path) -> Settings:
    return load_settings(
        store={
            "sqlite_path": str(folder / "threads.sqlite"),
            "records_path": str(folder / "records.sqlite"),
        }
    )


def test_fresh_sqlite_files_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    failures = [_failed_processes(_sqlite_settings(tmp_path / f"r{n}")) for n in range(ROUNDS)]
    assert failures == [0] * ROUNDS


def _fresh_database(server_url: str) -> str:
    name = f"race_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def test_a_fresh_postgres_database_opened_by_many_processes_at_once(postgres_url: str) -> None:
    failures = []
    for _ in range(ROUNDS):
        url = _fresh_database(postgres_url)
        settings = load_settings(store={"backend": "postgres", "postgres_url": url})
        failures.append(_failed_processes(settings))
    assert failures == [0] * ROUNDS
