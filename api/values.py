"""Expanding a live `values` event: its older messages travel by reference (the thread's
stored messages at a checkpoint), so the API reads them once per turn and adds the rest."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from core.contracts import Message
from stores.thread_store import ThreadStore

CACHED_CHECKPOINTS = 8


class ValuesExpander:
    def __init__(self, threads: ThreadStore) -> None:
        self._threads = threads
        self._cache: OrderedDict[tuple[str, str | None], list[Message]] = OrderedDict()

    async def expand(self, body: bytes) -> bytes:
        event: dict[str, Any] = orjson.loads(body)
        base, values = event.get("base") or {}, dict(event.get("values") or {})
        start, count = int(base.get("start", 0)), int(base.get("count", 0))
        prior = await self._stored(base.get("thread_id", ""), base.get("checkpoint_id"))
        values["messages"] = [*prior[start : start + count], *values.get("messages", [])]
        return orjson.dumps(values)

    async def _stored(self, thread_id: str, checkpoint_id: str | None) -> list[Message]:
        if not thread_id or checkpoint_id is None:
            return []
        key = (thread_id, checkpoint_id)
        if key not in self._cache:
            self._cache[key] = await self._threads.messages(thread_id, checkpoint_id)
            while len(self._cache) > CACHED_CHECKPOINTS:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]
