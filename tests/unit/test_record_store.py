"""The records' write transactions on SQLite: whole in the writer thread, never waiting for
the event loop while they hold the file's write lock (stores/record_store.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from stores.record_store import RecordStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RecordStore]:
    records = RecordStore(f"sqlite+aiosqlite:///{tmp_path / 'records.sqlite'}")
    await records.open()
    try:
        yield records
    finally:
        await records.close()


@pytest.fixture
def thread_updated() -> Iterator[threading.Event]:
    """Set once an UPDATE of `threads` has run and its transaction holds the write lock."""
    updated = threading.Event()

    def after_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE THREADS"):
            updated.set()

    event.listen(Engine, "after_cursor_execute", after_execute)
    yield updated
    event.remove(Engine, "after_cursor_execute", after_execute)


async def test_a_write_commits_while_the_event_loop_is_blocked(
    store: RecordStore, tmp_path: Path, thread_updated: threading.Event
) -> None:
    """A busy process's event loop must not keep the lock held: another process's writer
    waiting for it here, in the loop's own thread, gets it once the transaction commits.
    Run statement by statement from the loop, the commit could never come (the other writer
    fails with "database is locked" after its busy timeout)."""
    await store.create_thread("t1", "alice", {"k": "old"})
    writing = asyncio.create_task(store.update_thread("t1", metadata={"k": "new"}))
    assert await asyncio.to_thread(thread_updated.wait, 10), "the update never ran"
    other = sqlite3.connect(tmp_path / "records.sqlite", timeout=10)
    try:
        other.execute("BEGIN IMMEDIATE")  # blocks this thread, and so the loop
        (stored,) = other.execute("SELECT metadata FROM threads WHERE thread_id = 't1'").fetchone()
        other.rollback()
    finally:
        other.close()
    assert json.loads(stored) == {"k": "new"}
    await writing


async def test_a_refused_write_changes_nothing_and_the_writer_goes_on(store: RecordStore) -> None:
    """A transaction that raises (here: a taken thread id) is rolled back, and the next
    write through the same writer thread works."""
    assert await store.create_thread("t1", "alice", {"n": 1}) is not None
    assert await store.create_thread("t1", "bob", {"n": 2}) is None  # the id is taken
    thread = await store.get_thread("t1", "alice")
    assert thread is not None and thread.metadata == {"n": 1}
    assert await store.get_thread("t1", "bob") is None
    await store.update_thread("t1", metadata={"m": 3})
    thread = await store.get_thread("t1", "alice")
    assert thread is not None and thread.metadata == {"n": 1, "m": 3}
