"""Client-chosen message ids. A thread's messages merge by id, so an input message that
reuses an id the thread already has would overwrite that message (an earlier answer, a tool
result): history would change under the user. The API refuses such a run before anything
starts; the turn workflow renames such ids too, as a second line of defence (a run queued
behind another that commits the same id)."""

from __future__ import annotations

from typing import Any

from api.errors import ConflictError
from stores.thread_store import ThreadStore


def chosen_ids(raw_input: Any) -> list[str]:
    """The ids the client gave its input messages (the API makes up the others, fresh)."""
    messages = raw_input.get("messages") if isinstance(raw_input, dict) else None
    if not isinstance(messages, list):
        return []
    return [m["id"] for m in messages if isinstance(m, dict) and isinstance(m.get("id"), str)]


async def refuse_taken_ids(threads: ThreadStore, thread_id: str, ids: list[str]) -> None:
    """ConflictError naming every given id the thread already uses."""
    if not ids:
        return
    state = await threads.state(thread_id)
    stored = state.values.get("messages", []) if isinstance(state.values, dict) else []
    taken = {message.id for message in stored} & set(ids)
    if taken:
        names = ", ".join(repr(i) for i in ids if i in taken)
        raise ConflictError(
            f"Message id {names} is already used in thread {thread_id}; an input message "
            "cannot replace one the thread has. Leave `id` out to get a fresh one."
        )
