"""Threads: records in the record store, messages in the checkpointer (read-only here).

Every method takes the caller as `owner`: another user's thread answers exactly as a thread
that does not exist (404), and searches only ever see the caller's own threads.
"""

from __future__ import annotations

import uuid
from typing import Any

from api.errors import ConflictError, NotFoundError
from api.runs_service import RunsService
from api.schemas import ThreadCreate, ThreadSearch
from api.temporal_gateway import TemporalGateway
from api.views import thread_json
from broker import Broker
from core.contracts import StopRequest
from stores.forget import forget_thread
from stores.record_store import RecordStore
from stores.records import RunRecord, ThreadRecord
from stores.thread_store import ThreadStore


class ThreadsService:
    def __init__(
        self,
        store: RecordStore,
        thread_store: ThreadStore,
        runs: RunsService,
        gateway: TemporalGateway,
        broker: Broker,
    ) -> None:
        self._store = store
        self._thread_store = thread_store
        self._runs = runs
        self._gateway = gateway
        self._broker = broker

    async def create(self, body: ThreadCreate, owner: str) -> dict[str, Any]:
        thread_id = body.thread_id or str(uuid.uuid4())
        created = await self._store.create_thread(thread_id, owner, body.metadata or {})
        if created is not None:
            # New: no runs and no messages yet (a deletion removes the messages before the
            # record), so nothing needs reading back.
            return thread_json(created, "idle", [])
        mine = await self._store.get_thread(thread_id, owner)
        if mine is not None and body.if_exists == "do_nothing":
            return await self._json(mine)
        if mine is not None:
            raise ConflictError(f"Thread {thread_id} already exists")
        # Someone else's id: never handed over, whatever if_exists says.
        raise ConflictError(f"Thread id {thread_id} is not available; choose another id")

    async def get(self, thread_id: str, owner: str) -> dict[str, Any]:
        return await self._json(await self.record(thread_id, owner))

    async def search(self, query: ThreadSearch, owner: str) -> list[dict[str, Any]]:
        records = await self._store.list_threads(owner)
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

    async def delete(self, thread_id: str, owner: str) -> None:
        """Stop what still runs (the thread workflow ends once its turn has), then forget the
        thread: its records, its checkpoints and its runs' live events, so re-creating the
        same id starts empty."""
        await self.record(thread_id, owner)
        stop = StopRequest(action="interrupt", actor=owner, reason="thread deleted")
        await self._gateway.close_thread(thread_id, stop)
        await forget_thread(self._store, self._thread_store, self._broker, thread_id, owner)

    async def patch(self, thread_id: str, owner: str, metadata: dict[str, Any]) -> dict[str, Any]:
        """Merge metadata keys into the thread's."""
        await self.record(thread_id, owner)
        await self._store.update_thread(thread_id, metadata=metadata)
        return await self.get(thread_id, owner)

    async def copy(self, thread_id: str, owner: str) -> dict[str, Any]:
        """A new thread of the same owner, with this one's metadata and messages (its latest
        state, as one checkpoint; earlier checkpoints are not copied)."""
        thread = await self.record(thread_id, owner)
        copy_id = str(uuid.uuid4())
        await self._store.create_thread(copy_id, owner, thread.metadata)
        messages = await self._thread_store.messages(thread_id)
        if messages:
            await self._thread_store.commit(copy_id, messages)
        return await self.get(copy_id, owner)

    async def ensure(self, thread_id: str, owner: str, metadata: dict[str, Any]) -> None:
        """`if_not_exists: "create"` of a run: create the caller's thread if it is missing
        (another user's id stays theirs: 409)."""
        if await self._store.get_thread(thread_id, owner) is None:
            await self.create(ThreadCreate(thread_id=thread_id, metadata=metadata), owner)

    async def run_ended(self, run: RunRecord) -> bool:
        fresh = await self._store.get_run(run.thread_id, run.run_id)
        return fresh is not None and not fresh.active

    async def messages(self, thread_id: str) -> list[Any]:
        return await self._thread_store.messages(thread_id)

    async def record(self, thread_id: str, owner: str) -> ThreadRecord:
        thread = await self._store.get_thread(thread_id, owner)
        if thread is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return thread

    async def _json(self, thread: ThreadRecord) -> dict[str, Any]:
        status = await self._store.thread_status(thread)
        messages = await self._thread_store.messages(thread.thread_id)
        return thread_json(thread, status, messages)


def _matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(metadata.get(key) == value for key, value in wanted.items())


def _sorted(records: list[ThreadRecord], sort_by: str, order: str) -> list[ThreadRecord]:
    return sorted(records, key=lambda t: getattr(t, sort_by), reverse=order == "desc")
