"""Thread state: the conversation's messages, kept in a LangGraph checkpointer.

SQLite by default, Postgres by configuration. Only activities write it (a turn commits its
messages when it ends); the API only reads it. Commits are idempotent: messages merge by id,
so a retried commit activity cannot duplicate a message.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, MessagesState, StateGraph

from core.contracts import Message, ThreadSnapshot
from core.messages import from_dicts, to_dicts
from core.settings import Settings

_COMMIT_NODE = "turn"


async def _turn_node(state: MessagesState) -> dict[str, Any]:
    """Never executed: commits go through update_state as this node."""
    return {}


def _commit_graph(checkpointer: BaseCheckpointSaver) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node(_COMMIT_NODE, _turn_node)
    builder.add_edge(START, _COMMIT_NODE)
    return builder.compile(checkpointer=checkpointer)


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


class ThreadStore:
    """Reads and commits a thread's messages through a LangGraph checkpointer."""

    def __init__(self, checkpointer: BaseCheckpointSaver) -> None:
        self._graph = _commit_graph(checkpointer)

    async def load(self, thread_id: str) -> ThreadSnapshot:
        state = await self._graph.aget_state(_config(thread_id))
        messages = state.values.get("messages", []) if state.values else []
        checkpoint_id = (state.config or {}).get("configurable", {}).get("checkpoint_id")
        return ThreadSnapshot(messages=to_dicts(messages), checkpoint_id=checkpoint_id)

    async def state(self, thread_id: str) -> Any:
        """The raw LangGraph StateSnapshot, for the API's thread state endpoint."""
        return await self._graph.aget_state(_config(thread_id))

    async def commit(self, thread_id: str, messages: list[Message]) -> str | None:
        if not messages:
            return (await self.load(thread_id)).checkpoint_id
        config = await self._graph.aupdate_state(
            _config(thread_id),
            {"messages": from_dicts(messages)},
            as_node=_COMMIT_NODE,
        )
        return config.get("configurable", {}).get("checkpoint_id")


@contextlib.asynccontextmanager
async def open_thread_store(settings: Settings) -> AsyncIterator[ThreadStore]:
    """Open the configured checkpointer for the lifetime of a worker or API process."""
    if settings.store.backend == "postgres":
        # Optional dependency: pip install '.[postgres]'.
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        if not settings.store.postgres_url:
            raise ValueError("store.backend is postgres but store.postgres_url is not set")
        async with AsyncPostgresSaver.from_conn_string(settings.store.postgres_url) as saver:
            await saver.setup()
            yield ThreadStore(saver)
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = settings.data_path(settings.store.sqlite_path)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        yield ThreadStore(saver)
