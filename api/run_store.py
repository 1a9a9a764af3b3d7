"""SQLite store of thread and run records (not thread state: that lives in the checkpointer).

One aiosqlite connection per API process; WAL mode so a reader in another process (a CLI, a
test) never blocks the API. Terminal run statuses are written once: the first writer wins,
so a late, stale resolution can never overwrite the recorded end of a run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiosqlite

from api.records import RunRecord, ThreadRecord, utc_now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    multitask_strategy TEXT NOT NULL,
    kwargs TEXT NOT NULL DEFAULT '{}',
    started INTEGER NOT NULL DEFAULT 0,
    status TEXT,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_thread ON runs (thread_id, created_at);
CREATE INDEX IF NOT EXISTS unsettled_runs ON runs (status) WHERE status IS NULL;
"""

_RUN_COLUMNS = (
    "run_id, thread_id, assistant_id, user_id, created_at, updated_at, metadata,"
    " multitask_strategy, kwargs, started, status, outcome"
)


def _thread(row: aiosqlite.Row) -> ThreadRecord:
    return ThreadRecord(
        thread_id=row["thread_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        metadata=json.loads(row["metadata"]),
    )


def _run(row: aiosqlite.Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        thread_id=row["thread_id"],
        assistant_id=row["assistant_id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        metadata=json.loads(row["metadata"]),
        multitask_strategy=row["multitask_strategy"],
        kwargs=json.loads(row["kwargs"]),
        started=bool(row["started"]),
        status=row["status"],
        outcome=json.loads(row["outcome"]) if row["outcome"] else None,
    )


class RunStore:
    """Thread and run records in one SQLite file (path given by the caller)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self._path)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA busy_timeout=5000")
        await self._db.executescript(_SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("RunStore.open() was not awaited")
        return self._db

    async def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        cursor = await self.db.execute(sql, params)
        await self.db.commit()
        return cursor.rowcount

    async def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async with self.db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    # --- threads --------------------------------------------------------------------------

    async def create_thread(self, thread_id: str, metadata: dict[str, Any]) -> bool:
        """Insert a thread; False if the id is already taken."""
        now = utc_now()
        inserted = await self._write(
            "INSERT OR IGNORE INTO threads (thread_id, created_at, updated_at, metadata)"
            " VALUES (?, ?, ?, ?)",
            (thread_id, now, now, json.dumps(metadata)),
        )
        return inserted == 1

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        rows = await self._rows("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        return _thread(rows[0]) if rows else None

    async def list_threads(self) -> list[ThreadRecord]:
        rows = await self._rows("SELECT * FROM threads ORDER BY created_at DESC, rowid DESC")
        return [_thread(row) for row in rows]

    async def touch_thread(self, thread_id: str) -> None:
        await self._write(
            "UPDATE threads SET updated_at = ? WHERE thread_id = ?", (utc_now(), thread_id)
        )

    async def delete_thread(self, thread_id: str) -> bool:
        await self._write("DELETE FROM runs WHERE thread_id = ?", (thread_id,))
        return await self._write("DELETE FROM threads WHERE thread_id = ?", (thread_id,)) == 1

    # --- runs -----------------------------------------------------------------------------

    async def insert_run(self, run: RunRecord) -> None:
        await self._write(
            f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.run_id,
                run.thread_id,
                run.assistant_id,
                run.user_id,
                run.created_at,
                run.updated_at,
                json.dumps(run.metadata),
                run.multitask_strategy,
                json.dumps(run.kwargs),
                int(run.started),
                run.status,
                json.dumps(run.outcome) if run.outcome is not None else None,
            ),
        )

    async def get_run(self, thread_id: str, run_id: str) -> RunRecord | None:
        rows = await self._rows(
            "SELECT * FROM runs WHERE thread_id = ? AND run_id = ?", (thread_id, run_id)
        )
        return _run(rows[0]) if rows else None

    async def list_runs(self, thread_id: str, limit: int = 10, offset: int = 0) -> list[RunRecord]:
        """Newest first."""
        rows = await self._rows(
            "SELECT * FROM runs WHERE thread_id = ? ORDER BY created_at DESC, rowid DESC"
            " LIMIT ? OFFSET ?",
            (thread_id, limit, offset),
        )
        return [_run(row) for row in rows]

    async def unsettled_runs(self, thread_id: str | None = None) -> list[RunRecord]:
        """Runs without a terminal status, oldest first (the order enqueued runs start in)."""
        sql = "SELECT * FROM runs WHERE status IS NULL"
        params: tuple[Any, ...] = ()
        if thread_id is not None:
            sql, params = sql + " AND thread_id = ?", (thread_id,)
        rows = await self._rows(sql + " ORDER BY created_at, rowid", params)
        return [_run(row) for row in rows]

    async def mark_started(self, run: RunRecord) -> RunRecord:
        now = utc_now()
        await self._write(
            "UPDATE runs SET started = 1, updated_at = ? WHERE run_id = ?", (now, run.run_id)
        )
        return replace(run, started=True, updated_at=now)

    async def settle(
        self, run: RunRecord, status: str, outcome: dict[str, Any] | None
    ) -> RunRecord:
        """Record the terminal status once; returns the record as stored afterwards."""
        await self._write(
            "UPDATE runs SET status = ?, outcome = ?, updated_at = ?"
            " WHERE run_id = ? AND status IS NULL",
            (status, json.dumps(outcome) if outcome is not None else None, utc_now(), run.run_id),
        )
        stored = await self.get_run(run.thread_id, run.run_id)
        return stored if stored is not None else run

    async def delete_run(self, thread_id: str, run_id: str) -> bool:
        deleted = await self._write(
            "DELETE FROM runs WHERE thread_id = ? AND run_id = ?", (thread_id, run_id)
        )
        return deleted == 1
