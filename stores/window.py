"""Which recent messages a turn loads from a long thread (core.contracts.ContextPolicy).

From the newest message backwards, as many as fit both limits; then the window is moved
forward to its first user message, so it never starts with a tool result cut off from the
call that asked for it, nor mid-turn. The model sees this window, the thread keeps it all.
"""

from __future__ import annotations

from langchain_core.messages import BaseMessage, HumanMessage

from core.contracts import ContextPolicy


def _size(message: BaseMessage) -> int:
    size = len(str(message.content))
    for call in getattr(message, "tool_calls", None) or []:
        size += len(str(call.get("args", "")))
    return size


def choose_window(messages: list[BaseMessage], policy: ContextPolicy) -> int:
    """The index the window starts at (0: the whole thread fits)."""
    start, chars = len(messages), 0
    while start > 0 and len(messages) - start < policy.max_messages:
        chars += _size(messages[start - 1])
        if chars > policy.max_chars and start < len(messages):
            break
        start -= 1
    if start == 0:
        return 0
    for index in range(start, len(messages)):
        if isinstance(messages[index], HumanMessage):
            return index
    # One enormous turn with no user message in reach: the last user message, whatever it costs.
    for index in range(start - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return 0
