"""Deleting a thread's data: its records, its checkpoints and its runs' live events, so a
thread re-created with the same id starts empty. Shared by `DELETE /threads/{id}` and by the
thread workflow deleting a stateless run's own thread once the run is over."""

from __future__ import annotations

import contextlib

from broker import Broker, BrokerUnavailable
from stores.record_store import RecordStore
from stores.thread_store import ThreadStore


async def forget_thread(
    records: RecordStore, threads: ThreadStore, broker: Broker, thread_id: str, owner: str
) -> None:
    runs = await records.list_runs(thread_id, limit=-1)
    # Messages first: a crash in between leaves an empty thread that can be deleted again,
    # never messages that a new thread with the same id would show.
    await threads.delete(thread_id)
    await records.delete_thread(thread_id, owner)
    for run in runs:
        with contextlib.suppress(BrokerUnavailable):  # they expire anyway (retention)
            await broker.purge_run(run.run_id)
