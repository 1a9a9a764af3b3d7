"""Activities that read and commit a thread's messages (the only writers of thread state)."""

from __future__ import annotations

from temporalio import activity

from activities.thread_store import ThreadStore
from core.contracts import CommitInput, ThreadSnapshot


class ThreadActivities:
    def __init__(self, store: ThreadStore) -> None:
        self._store = store

    @activity.defn(name="load_thread")
    async def load_thread(self, thread_id: str) -> ThreadSnapshot:
        return await self._store.load(thread_id)

    @activity.defn(name="commit_turn")
    async def commit_turn(self, commit: CommitInput) -> str | None:
        return await self._store.commit(commit.thread_id, commit.messages)
