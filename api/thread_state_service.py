"""A thread's state over time: current, at a checkpoint, its history, and writing it.

Every read and write is the owner's only (api/threads_service.py resolves the thread first).
A thread's history is its checkpoints: one per committed turn (two when a turn paused for
approval), each linked to its parent, which is what `useStream` rebuilds branches from.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from api.errors import InvalidInputError, NotFoundError
from api.thread_states import matches_filters, state_json
from api.threads_service import ThreadsService
from stores.record_store import RecordStore
from stores.thread_store import ThreadStore, checkpoint_id_of


class ThreadStateService:
    def __init__(
        self, threads: ThreadsService, records: RecordStore, thread_store: ThreadStore
    ) -> None:
        self._threads = threads
        self._records = records
        self._store = thread_store

    async def current(self, thread_id: str, owner: str) -> dict[str, Any]:
        thread = await self._threads.record(thread_id, owner)
        snapshot = await self._store.state(thread_id)
        return state_json(thread_id, snapshot, thread.interrupts)

    async def at(self, thread_id: str, checkpoint_id: str, owner: str) -> dict[str, Any]:
        thread = await self._threads.record(thread_id, owner)
        snapshot = await self._store.state(thread_id, checkpoint_id)
        if checkpoint_id_of(snapshot.config) != checkpoint_id:
            raise NotFoundError(f"Checkpoint {checkpoint_id} not found in thread {thread_id}")
        latest = checkpoint_id_of((await self._store.state(thread_id)).config)
        pending = thread.interrupts if checkpoint_id == latest else []
        return state_json(thread_id, snapshot, pending)

    async def history(
        self,
        thread_id: str,
        owner: str,
        *,
        limit: int,
        before: str | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; `before`: only older than that checkpoint; `checkpoint_id`: from
        that checkpoint back."""
        thread = await self._threads.record(thread_id, owner)
        snapshots = await self._store.history(thread_id)
        states = [
            state_json(thread_id, s, thread.interrupts if i == 0 else None)
            for i, s in enumerate(snapshots)
        ]
        start = checkpoint_id or before
        if start is not None:
            ids = [s["checkpoint_id"] for s in states]
            if start not in ids:
                raise NotFoundError(f"Checkpoint {start} not found in thread {thread_id}")
            states = states[ids.index(start) + (1 if before and not checkpoint_id else 0) :]
        return [s for s in states if matches_filters(s, metadata)][:limit]

    async def update(
        self,
        thread_id: str,
        owner: str,
        values: dict[str, Any],
        checkpoint_id: str | None = None,
    ) -> dict[str, Any]:
        """`update_state`: write values as a new checkpoint (on top of `checkpoint_id`)."""
        await self._threads.record(thread_id, owner)
        messages = values.get("messages")
        if messages is not None and not isinstance(messages, list):
            raise InvalidInputError("values.messages must be a list of messages")
        try:
            written = await self._store.update(thread_id, values, on_top_of=checkpoint_id)
        except (ValidationError, ValueError, TypeError) as exc:
            raise InvalidInputError(f"values are not valid thread state: {exc}") from exc
        await self._records.update_thread(thread_id)
        return {"checkpoint": {"thread_id": thread_id, "checkpoint_ns": "",
                               "checkpoint_id": written}}  # fmt: skip
