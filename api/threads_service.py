"""Threads: records in the run store, messages in the checkpointer (read-only here).

The worker commits a thread's messages when a turn ends; the API only reads them, so a
thread's values are whatever the last committed turn left behind.
"""

from __future__ import annotations

import uuid
from typing import Any

from activities.thread_store import ThreadStore
from api.errors import ConflictError, NotFoundError
from api.records import ThreadRecord
from api.run_store import RunStore
from api.runs_service import RunsService
from api.schemas import ThreadCreate, ThreadSearch
from api.views import checkpoint_json, jsonable, thread_json
from core.contracts import StopRequest
from core.messages import to_dicts


class ThreadsService:
    def __init__(self, store: RunStore, thread_store: ThreadStore, runs: RunsService) -> None:
        self._store = store
        self._thread_store = thread_store
        self._runs = runs

    async def create(self, body: ThreadCreate) -> dict[str, Any]:
        thread_id = body.thread_id or str(uuid.uuid4())
        created = await self._store.create_thread(thread_id, body.metadata or {})
        if not created and body.if_exists == "raise":
            raise ConflictError(f"Thread {thread_id} already exists")
        return await self.get(thread_id)

    async def get(self, thread_id: str) -> dict[str, Any]:
        return await self._json(await self._record(thread_id))

    async def search(self, query: ThreadSearch) -> list[dict[str, Any]]:
        records = await self._store.list_threads()
        if query.ids is not None:
            records = [t for t in records if t.thread_id in query.ids]
        if query.metadata:
            records = [t for t in records if _matches(t.metadata, query.metadata)]
        if query.status is None and query.sort_by != "status":
            records = _sorted(records, query.sort_by, query.sort_order)
            records = records[query.offset : query.offset + query.limit]
            return [await self._json(t) for t in records]
        found = [await self._json(t) for t in records]
        if query.status is not None:
            found = [t for t in found if t["status"] == query.status]
        found.sort(key=lambda t: str(t[query.sort_by]), reverse=query.sort_order == "desc")
        return found[query.offset : query.offset + query.limit]

    async def delete(self, thread_id: str, caller: str) -> None:
        """Forget the thread and its runs, stopping any that is still active."""
        await self._record(thread_id)
        stop = StopRequest(action="interrupt", actor=caller, reason="thread deleted")
        await self._runs.stop_thread(thread_id, stop)
        await self._store.delete_thread(thread_id)

    async def state(self, thread_id: str) -> dict[str, Any]:
        await self._record(thread_id)
        snapshot = await self._thread_store.state(thread_id)
        values = snapshot.values if isinstance(snapshot.values, dict) else {}
        return {
            "values": {"messages": to_dicts(values.get("messages", []))},
            "next": [],
            "tasks": [],
            "checkpoint": checkpoint_json(thread_id, snapshot.config)
            or {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": None},
            "metadata": jsonable(snapshot.metadata or {}),
            "created_at": snapshot.created_at,
            "parent_checkpoint": checkpoint_json(thread_id, snapshot.parent_config),
            "interrupts": [],
        }

    async def messages(self, thread_id: str) -> list[Any]:
        return (await self._thread_store.load(thread_id)).messages

    async def _record(self, thread_id: str) -> ThreadRecord:
        thread = await self._store.get_thread(thread_id)
        if thread is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return thread

    async def _json(self, thread: ThreadRecord) -> dict[str, Any]:
        status = await self._runs.thread_status(thread.thread_id)
        snapshot = await self._thread_store.load(thread.thread_id)
        return thread_json(thread, status, snapshot.messages)


def _matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(metadata.get(key) == value for key, value in wanted.items())


def _sorted(records: list[ThreadRecord], sort_by: str, order: str) -> list[ThreadRecord]:
    return sorted(records, key=lambda t: getattr(t, sort_by), reverse=order == "desc")
