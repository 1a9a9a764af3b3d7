"""Thread and run records in SQL: SQLite for development, Postgres in production.

SQLAlchemy Core keeps one set of queries for both. Every read a user can reach takes the
caller as `owner`, so a query can never return another user's thread: privacy is enforced
where the rows are read. Writes are idempotent (a retried activity repeats nothing) and a
terminal run status is written once: the first writer wins.

A write transaction is a plain function of a connection (`_transact`). On SQLite it runs
whole in this store's writer thread, from `BEGIN IMMEDIATE` to `COMMIT`: the file's single
write lock is held for the statements only. Run statement by statement from the event
loop, each step waited for the loop of a busy process, and the lock stayed held across
those waits: with 40 answers streaming, the worker's and the API's write transactions held
it for up to 136 ms, and a Stop's claim waited behind them (p95 60 ms of the 95 ms from
Stop to the model's hang-up). On Postgres the same function runs on the async connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, delete, event, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.settings import Settings
from stores.record_rows import run_from_row, run_to_row, thread_from_row
from stores.records import ACTIVE_STATUSES, RunRecord, ThreadRecord, utc_now
from stores.schema import METADATA, runs, threads
from stores.schema_lock import schema_setup_lock
from stores.writer_queue import NoQueue, WriterQueue

T = TypeVar("T")


def records_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the records database (the thread store's database in Postgres)."""
    if settings.store.backend == "postgres":
        url = settings.store.postgres_url
        if not url:
            raise ValueError("store.backend is postgres but store.postgres_url is not set")
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"sqlite+aiosqlite:///{settings.data_path(settings.store.records_path)}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: the API and the worker write the same file; readers never block the writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # With WAL, NORMAL stays consistent after a crash; only a power cut may lose the newest
    # commits, and these records are rebuilt from Temporal's own record of each turn.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqliteWriterThread:
    """One thread that runs SQLite write transactions whole. They take the write lock when
    they begin (`BEGIN IMMEDIATE`, waited for by the busy timeout), so one that reads before
    it writes never fails halfway with SQLITE_BUSY."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url.replace("sqlite+aiosqlite://", "sqlite://", 1))
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="records-writer")
        event.listen(self._engine, "connect", _writer_connect)
        event.listen(self._engine, "begin", _begin_immediate)

    async def run(self, work: Callable[[Connection], T]) -> T:
        def transaction() -> T:
            with self._engine.begin() as conn:
                return work(conn)

        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown()


def _writer_connect(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None  # _begin_immediate issues BEGIN


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class RecordStore:
    """Threads and runs, one engine per process (and on SQLite, one writer thread)."""

    def __init__(self, url: str) -> None:
        sqlite = url.startswith("sqlite")
        # A pre-ping finds a Postgres connection the server dropped; a SQLite file cannot drop.
        self._engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not sqlite)
        self._writers = WriterQueue() if sqlite else NoQueue()
        self._sqlite_writer = SqliteWriterThread(url) if sqlite else None
        if sqlite:
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)

    @classmethod
    def from_settings(cls, settings: Settings) -> RecordStore:
        return cls(records_url(settings))

    async def open(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)

    async def close(self) -> None:
        await self._engine.dispose()
        if self._sqlite_writer is not None:
            await self._sqlite_writer.close()

    async def _transact(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Run `work` as one write transaction, in this process's turn
        (stores.writer_queue); committed if it returns, rolled back if it raises."""
        async with self._writers.turn(urgent=urgent):
            if self._sqlite_writer is not None:
                return await self._sqlite_writer.run(work)
            async with self._engine.begin() as conn:
                return await conn.run_sync(work)

    async def _write(self, statement: Any, *, urgent: bool = False) -> int:
        return await self._transact(
            lambda conn: int(conn.execute(statement).rowcount or 0), urgent=urgent
        )

    async def _insert(self, statement: Any) -> bool:
        """False if the row exists already (a retry, or a concurrent writer won)."""
        try:
            await self._write(statement)
        except IntegrityError:
            return False
        return True

    async def _rows(self, statement: Any) -> Sequence[Row[Any]]:
        async with self._engine.connect() as conn:
            return (await conn.execute(statement)).fetchall()

    # --- threads --------------------------------------------------------------------------

    async def create_thread(
        self, thread_id: str, owner: str, metadata: dict[str, Any]
    ) -> ThreadRecord | None:
        """Insert a thread and return it; None if the id is already taken (by anyone)."""
        now = utc_now()
        created = await self._insert(
            insert(threads).values(
                thread_id=thread_id,
                owner=owner,
                created_at=now,
                updated_at=now,
                metadata=json.dumps(metadata),
                interrupts="[]",
            )
        )
        if not created:
            return None
        return ThreadRecord(
            thread_id=thread_id, owner=owner, created_at=now, updated_at=now, metadata=metadata
        )

    async def get_thread(self, thread_id: str, owner: str) -> ThreadRecord | None:
        """The caller's thread, or None: another user's thread does not exist for them."""
        rows = await self._rows(
            select(threads).where(threads.c.thread_id == thread_id, threads.c.owner == owner)
        )
        return thread_from_row(rows[0]) if rows else None

    async def list_threads(self, owner: str) -> list[ThreadRecord]:
        rows = await self._rows(
            select(threads)
            .where(threads.c.owner == owner)
            .order_by(threads.c.created_at.desc(), threads.c.thread_id.desc())
        )
        return [thread_from_row(row) for row in rows]

    async def update_thread(
        self,
        thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        interrupts: list[dict[str, Any]] | None = None,
    ) -> None:
        """Merge metadata keys, replace the pending interrupts; always touch updated_at."""
        await self._transact(
            lambda conn: _touch_thread(conn, thread_id, metadata=metadata, interrupts=interrupts)
        )

    async def delete_thread(self, thread_id: str, owner: str) -> bool:
        """Delete the thread's record and its runs' records."""

        def work(conn: Connection) -> bool:
            gone = conn.execute(
                delete(threads).where(threads.c.thread_id == thread_id, threads.c.owner == owner)
            )
            if not gone.rowcount:
                return False
            conn.execute(delete(runs).where(runs.c.thread_id == thread_id))
            return True

        return await self._transact(work)

    async def thread_status(self, thread: ThreadRecord) -> str:
        """idle | busy | interrupted | error, from the runs and the pending interrupts."""
        active = await self._rows(
            select(runs.c.run_id)
            .where(runs.c.thread_id == thread.thread_id, runs.c.status.in_(ACTIVE_STATUSES))
            .limit(1)
        )
        if active:
            return "busy"
        if thread.interrupts:
            return "interrupted"
        latest = await self._rows(
            select(runs.c.status)
            .where(runs.c.thread_id == thread.thread_id)
            .order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
            .limit(1)
        )
        return "error" if latest and latest[0].status in ("error", "timeout") else "idle"

    # --- runs -----------------------------------------------------------------------------

    async def insert_run(
        self, run: RunRecord, *, thread_metadata: dict[str, Any] | None = None
    ) -> bool:
        """The API's row for a run Temporal accepted; False if the turn wrote it first.
        Touches the thread (merging `thread_metadata`) in the same transaction."""

        def work(conn: Connection) -> None:
            conn.execute(insert(runs).values(**run_to_row(run)))
            _touch_thread(conn, run.thread_id, metadata=thread_metadata, interrupts=None)

        try:
            await self._transact(work)
        except IntegrityError:
            await self.update_thread(run.thread_id, metadata=thread_metadata)
            return False
        return True

    async def mark_running(self, run: RunRecord) -> None:
        """The turn started: write its row if the API never did (it crashed), else flip
        pending to running."""
        if await self._insert(insert(runs).values(**run_to_row(run))):
            return
        await self._write(
            update(runs)
            .where(runs.c.run_id == run.run_id, runs.c.status == "pending")
            .values(status="running", updated_at=utc_now(), workflow_id=run.workflow_id)
        )

    async def finish_run(
        self,
        run: RunRecord,
        status: str,
        outcome: dict[str, Any] | None,
        *,
        reopen: bool = False,
        thread_metadata: dict[str, Any] | None = None,
        interrupts: list[dict[str, Any]] | None = None,
    ) -> RunRecord:
        """Record the terminal status once (writing the row if it is missing), and touch the
        thread (`thread_metadata`, `interrupts`: see update_thread); returns the record as
        stored afterwards. `reopen`: the run paused (success) and its turn has ended since
        (stopped while waiting, or the approval expired): rewrite its end.

        One transaction: a turn's end costs one commit, not four (20 stops at once queue
        on the database's single writer, and each commit is that queue's step)."""
        ended = {
            "status": status,
            "outcome": json.dumps(outcome) if outcome is not None else None,
            "updated_at": utc_now(),
        }
        query = update(runs).where(runs.c.run_id == run.run_id)
        if not reopen:
            query = query.where(runs.c.status.in_(ACTIVE_STATUSES))

        def work(conn: Connection) -> Row[Any] | None:
            row = conn.execute(query.values(**ended).returning(*runs.c)).first()
            if row is None:  # ended before, or never written (the API crashed first)
                row = conn.execute(select(runs).where(runs.c.run_id == run.run_id)).first()
            if row is None:
                insert_ended = insert(runs).values(**{**run_to_row(run), **ended})
                row = conn.execute(insert_ended.returning(*runs.c)).first()
            if thread_metadata is not None or interrupts is not None:
                _touch_thread(conn, run.thread_id, metadata=thread_metadata, interrupts=interrupts)
            return row

        row = await self._transact(work)
        return run_from_row(row) if row is not None else run

    async def request_stop(self, run: RunRecord, stop: dict[str, Any]) -> dict[str, Any]:
        """Record the run's stop, once: returns the stop that stands (the earlier one, if
        someone stopped it before)."""
        recorded = await self._write(
            update(runs)
            .where(runs.c.run_id == run.run_id, runs.c.stop.is_(None))
            .values(stop=json.dumps(stop)),
            urgent=True,
        )
        if recorded:  # the usual case, and on the Stop fast path: no read back
            return stop
        stored = await self.get_run(run.thread_id, run.run_id)
        return stored.stop if stored is not None and stored.stop else stop

    async def claim_first_stop(
        self, thread_id: str, run_id: str, owner: str, stop: dict[str, Any]
    ) -> RunRecord | None:
        """The Stop fast path in one statement: record the stop of the owner's active run
        that nobody has stopped yet, and return the run. None: any other case (not found,
        not the owner's, ended or paused, stopped before), which request_stop then sorts
        out. Saves a round trip before Temporal hears of the stop."""
        owned = select(threads.c.thread_id).where(
            threads.c.thread_id == thread_id, threads.c.owner == owner
        )
        query = (
            update(runs)
            .where(
                runs.c.run_id == run_id,
                runs.c.thread_id.in_(owned.scalar_subquery()),
                runs.c.status.in_(ACTIVE_STATUSES),
                runs.c.stop.is_(None),
            )
            .values(stop=json.dumps(stop))
            .returning(*runs.c)
        )
        row = await self._transact(lambda conn: conn.execute(query).first(), urgent=True)
        return run_from_row(row) if row is not None else None

    async def get_run(self, thread_id: str, run_id: str) -> RunRecord | None:
        rows = await self._rows(
            select(runs).where(runs.c.thread_id == thread_id, runs.c.run_id == run_id)
        )
        return run_from_row(rows[0]) if rows else None

    async def get_owned_run(self, thread_id: str, run_id: str, owner: str) -> RunRecord | None:
        """The run if its thread is the owner's, in one query (the Stop path reads this)."""
        rows = await self._rows(
            select(runs)
            .join(threads, threads.c.thread_id == runs.c.thread_id)
            .where(runs.c.thread_id == thread_id, runs.c.run_id == run_id, threads.c.owner == owner)
        )
        return run_from_row(rows[0]) if rows else None

    async def list_runs(
        self, thread_id: str, limit: int = 10, offset: int = 0, status: str | None = None
    ) -> list[RunRecord]:
        """Newest first; limit < 0 means all."""
        query = select(runs).where(runs.c.thread_id == thread_id)
        if status is not None:
            query = query.where(runs.c.status == status)
        query = query.order_by(runs.c.created_at.desc(), runs.c.run_id.desc()).offset(offset)
        if limit >= 0:
            query = query.limit(limit)
        return [run_from_row(row) for row in await self._rows(query)]

    async def active_runs(
        self, thread_id: str | None = None, *, owner: str | None = None
    ) -> list[RunRecord]:
        """Pending and running runs, oldest first; with `owner`, only on that user's threads."""
        query = select(runs).where(runs.c.status.in_(ACTIVE_STATUSES))
        if thread_id is not None:
            query = query.where(runs.c.thread_id == thread_id)
        if owner is not None:
            owned = select(threads.c.thread_id).where(threads.c.owner == owner)
            query = query.where(runs.c.thread_id.in_(owned))
        rows = await self._rows(query.order_by(runs.c.created_at, runs.c.run_id))
        return [run_from_row(row) for row in rows]

    async def delete_run(self, thread_id: str, run_id: str) -> bool:
        deleted = await self._write(
            delete(runs).where(runs.c.thread_id == thread_id, runs.c.run_id == run_id)
        )
        return deleted == 1


@contextlib.asynccontextmanager
async def open_record_store(settings: Settings) -> AsyncIterator[RecordStore]:
    """The records for the lifetime of a worker or API process, tables created if missing."""
    records = RecordStore.from_settings(settings)
    try:
        async with schema_setup_lock(settings):
            await records.open()
        yield records
    finally:
        await records.close()


def _touch_thread(
    conn: Connection,
    thread_id: str,
    *,
    metadata: dict[str, Any] | None,
    interrupts: list[dict[str, Any]] | None,
) -> None:
    values: dict[str, Any] = {"updated_at": utc_now()}
    if metadata:
        stored = conn.execute(
            select(threads.c.metadata).where(threads.c.thread_id == thread_id)
        ).first()
        values["metadata"] = json.dumps(
            {**(json.loads(stored.metadata) if stored else {}), **metadata}
        )
    if interrupts is not None:
        values["interrupts"] = json.dumps(interrupts)
    conn.execute(update(threads).where(threads.c.thread_id == thread_id).values(**values))
