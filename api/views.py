"""The JSON shapes of the Agent Server protocol, built from records and views."""

from __future__ import annotations

import json
from typing import Any

from stores.records import RunRecord, ThreadRecord


def run_json(run: RunRecord) -> dict[str, Any]:
    outcome = run.outcome
    stop = (outcome or {}).get("stop") or run.stop
    return {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "status": run.status,
        "metadata": run.metadata,
        "kwargs": run.kwargs,
        "multitask_strategy": run.multitask_strategy,
        "cancel_reason": stop.get("reason") if stop else None,
        "outcome": outcome,
    }


def interrupt_json(item: dict[str, Any]) -> dict[str, Any]:
    return {"value": item.get("value"), "id": item.get("id")}


def thread_interrupts(thread: ThreadRecord) -> dict[str, list[dict[str, Any]]]:
    """`interrupts` of a thread: task id -> the interrupts it waits on."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for item in thread.interrupts:
        if item.get("id"):
            by_task.setdefault(item.get("task_id") or "", []).append(interrupt_json(item))
    return by_task


def thread_json(thread: ThreadRecord, status: str, messages: list[Any]) -> dict[str, Any]:
    return {
        "thread_id": thread.thread_id,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
        "metadata": thread.metadata,
        "status": status,
        "values": {"messages": messages},
        "config": {},
        "interrupts": thread_interrupts(thread),
    }


def checkpoint_json(thread_id: str, config: Any) -> dict[str, Any] | None:
    configurable = (config or {}).get("configurable", {})
    if config is None:
        return None
    return {
        "thread_id": thread_id,
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
    }


def jsonable(value: Any) -> Any:
    """Checkpoint metadata may hold LangChain objects; JSON gets their serialized form."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def final_values(
    run: RunRecord, messages: list[Any], interrupts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What /runs/wait and /join return: the thread's values (with `__interrupt__` when the
    turn waits for a person), or the Agent Server's error shape, which langgraph_sdk's
    runs.wait() raises as an exception."""
    if run.status in ("error", "timeout"):
        message = (run.outcome or {}).get("error")
        return {"__error__": {"error": f"Run{run.status.title()}", "message": message or ""}}
    values: dict[str, Any] = {"messages": messages}
    pending = [interrupt_json(i) for i in interrupts or [] if i.get("id")]
    if pending:
        values["__interrupt__"] = pending
    return values
