"""LangChain messages <-> the flat serialized dicts the Agent Server protocol shows.

The flat form ({"type": "ai", "content": ..., "id": ..., "tool_calls": [...]}) is what
`GET /threads/{id}/state` returns in LangGraph, so the same dicts cross activity boundaries,
live in workflow history and go out over HTTP.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)

_CLASSES: dict[str, type[BaseMessage]] = {
    "human": HumanMessage,
    "ai": AIMessage,
    "AIMessageChunk": AIMessageChunk,
    "tool": ToolMessage,
    "system": SystemMessage,
    "remove": RemoveMessage,
}


def removal(message_id: str) -> dict[str, Any]:
    """A commit entry that deletes the message with this id (LangGraph's RemoveMessage)."""
    return to_dict(RemoveMessage(id=message_id))


def to_dict(message: BaseMessage) -> dict[str, Any]:
    return message.model_dump(mode="json")


def from_dict(data: dict[str, Any]) -> BaseMessage:
    kind = data.get("type")
    if kind not in _CLASSES:
        raise ValueError(f"unknown message type {kind!r}")
    return _CLASSES[kind].model_validate(data)


def to_dicts(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    return [to_dict(m) for m in messages]


def from_dicts(items: list[dict[str, Any]]) -> list[BaseMessage]:
    return [from_dict(d) for d in items]


def text_of(message: BaseMessage | dict[str, Any]) -> str:
    """Plain text of a message whose content may be a string or a list of parts."""
    content = message.get("content") if isinstance(message, dict) else message.content
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content or []]
    return "".join(parts)
