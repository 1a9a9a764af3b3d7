"""A thread's states in the Agent Server's shape: the current one, any checkpoint, and the
history (one state per commit, newest first, each linked to its parent), with what a paused
turn waits for (`next`, `tasks[].interrupts`, `interrupts`)."""

from __future__ import annotations

from typing import Any

from langgraph.types import StateSnapshot

from api.views import checkpoint_json, interrupt_json, jsonable
from core.messages import to_dicts


def state_json(
    thread_id: str, snapshot: StateSnapshot, pending: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`pending`: the thread's interrupts, shown on its latest state only."""
    values = snapshot.values if isinstance(snapshot.values, dict) else {}
    checkpoint = checkpoint_json(thread_id, snapshot.config) or {
        "thread_id": thread_id,
        "checkpoint_ns": "",
        "checkpoint_id": None,
    }
    parent = checkpoint_json(thread_id, snapshot.parent_config)
    pending = pending or []
    return {
        "values": {**jsonable(values), "messages": to_dicts(values.get("messages", []))},
        "next": _next(pending),
        "tasks": tasks_json(pending),
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "checkpoint_id": checkpoint["checkpoint_id"],
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
        "metadata": jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "interrupts": [interrupt_json(i) for i in pending if i.get("id")],
    }


def _next(pending: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for item in pending:
        names += [n for n in item.get("next", []) if n not in names]
    return names


def tasks_json(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One task per node the paused turn will run next, with the interrupts it raised."""
    tasks = []
    for name in _next(pending):
        raised = [interrupt_json(i) for i in pending if i.get("id") and name in i.get("next", [])]
        task_id = next((i.get("task_id") for i in pending if name in i.get("next", [])), "")
        tasks.append(
            {
                "id": task_id or name,
                "name": name,
                "path": ["__pregel_pull", name],
                "error": None,
                "interrupts": raised,
                "checkpoint": None,
                "state": None,
                "result": None,
            }
        )
    return tasks


def matches_filters(state: dict[str, Any], metadata: dict[str, Any] | None) -> bool:
    if not metadata:
        return True
    return all(state["metadata"].get(k) == v for k, v in metadata.items())
