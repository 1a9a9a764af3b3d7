"""The graph's stream events as the outbox carries them.

A `values` event names the thread's stored messages by reference (checkpoint and count) and
carries only what the turn added: a thread of thousands of messages is not copied into every
step's event, nor into the activity payloads that carry them. The API expands the reference
when a client asked for `values`.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from langchain_core.messages import BaseMessage

    from core.contracts import ThreadContext, TurnInput
    from core.live import HistoryRef
    from core.messages import to_dict


def graph_event(value: Any) -> Any:
    """LangChain messages anywhere in an update become their serialized dicts."""
    if isinstance(value, BaseMessage):
        return to_dict(value)
    if isinstance(value, dict):
        return {k: graph_event(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [graph_event(v) for v in value]
    return value


def values_event(inp: TurnInput, context: ThreadContext, state: dict[str, Any]) -> dict[str, Any]:
    messages: list[BaseMessage] = list(state.get("messages", []))
    window_ids = [m.get("id") for m in context.window]
    start = context.total - len(context.window)
    if [m.id for m in messages[: len(window_ids)]] == window_ids:
        base = HistoryRef(thread_id=inp.thread_id, checkpoint_id=context.checkpoint_id,
                          start=0, count=context.total)  # fmt: skip
        tail = messages[len(window_ids) :]
    else:  # the graph rewrote its window: only what came before the window is by reference
        base = HistoryRef(thread_id=inp.thread_id, checkpoint_id=context.checkpoint_id,
                          start=0, count=start)  # fmt: skip
        tail = messages
    values = graph_event({**state, "messages": tail})
    return {"base": graph_event_ref(base), "values": values}


def graph_event_ref(ref: HistoryRef) -> dict[str, Any]:
    return {
        "thread_id": ref.thread_id,
        "checkpoint_id": ref.checkpoint_id,
        "start": ref.start,
        "count": ref.count,
    }
