"""One process at a time sets up the databases' schemas.

LangGraph's SQLite saver and store run their migrations as "read the applied versions, then
insert the new ones", which is not safe when two processes open a fresh database together
(two API replicas and a worker starting at once fail with `UNIQUE constraint failed:
store_migrations.v`). Every process therefore takes this lock around its schema setup: a file
lock beside the SQLite database in development, a Postgres advisory lock in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from core.settings import Settings

if TYPE_CHECKING:
    import psycopg

# Any constant works: it only has to be the same in every chatstop process.
_ADVISORY_KEY = 0x63686174  # "chat"
_RETRY_S = 0.05


@contextlib.asynccontextmanager
async def schema_setup_lock(settings: Settings) -> AsyncIterator[None]:
    if settings.store.backend == "postgres":
        async with _advisory_lock(settings):
            yield
        return
    path = settings.data_path(settings.store.sqlite_path).with_suffix(".setup-lock")
    with path.open("a") as handle:
        # flock blocks; waiting in a thread keeps the event loop (and heartbeats) running.
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def _advisory_lock(settings: Settings) -> AsyncIterator[None]:
    import psycopg  # optional dependency: pip install '.[postgres]'

    assert settings.store.postgres_url, "store.backend is postgres but postgres_url is not set"
    # A session lock: released by the unlock below or, if the process dies, with its connection.
    async with await psycopg.AsyncConnection.connect(
        settings.store.postgres_url, autocommit=True
    ) as conn:
        # Try, not wait: a session blocked in pg_advisory_lock holds a snapshot, and the
        # holder's CREATE INDEX CONCURRENTLY waits for every snapshot: a silent deadlock.
        while not await _try_lock(conn):  # noqa: ASYNC110 (the holder is another process)
            await asyncio.sleep(_RETRY_S)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_KEY,))


async def _try_lock(conn: psycopg.AsyncConnection[Any]) -> bool:
    cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (_ADVISORY_KEY,))
    row = await cursor.fetchone()
    return bool(row and row[0])
