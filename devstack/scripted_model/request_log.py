"""In-memory log of every completions request, exposed at ``/_scripted/log``.

Tests assert on *what the model was asked* and *how the stream ended* (tokens sent, whether
the client hung up and when), which is the only way to prove from outside that Stop really
cut off the upstream LLM call rather than just hiding it in the UI.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from devstack.scripted_model.directives import message_text

MAX_ENTRIES = 10_000

ReplyKind = Literal["text", "tool_calls", "error"]


@dataclass
class LogEntry:
    """One completions request; mutated in place while its response streams."""

    seq: int
    start: float
    end: float | None = None
    tokens: int = 0
    disconnected: bool = False
    status: int = 200
    stream: bool = False
    reply: ReplyKind = "text"
    model: str | None = None
    tool_calls: list[str] = field(default_factory=list)
    tool_results: int = 0
    token_times: list[float] = field(default_factory=list)
    messages: Any = None

    def record_token(self) -> None:
        """Note that one more content token has been written to the client."""
        self.tokens += 1
        self.token_times.append(time.time())

    def finish(self, *, disconnected: bool) -> None:
        """Close the entry once; the first caller wins.

        Both the disconnect watcher and the producer's ``finally`` call this, and the watcher
        usually runs first, so ``end`` is the moment the hang-up was noticed.
        """
        if self.end is not None:
            return
        self.end = time.time()
        self.disconnected = disconnected

    def mentions(self, needle: str) -> bool:
        """Whether any message's text contains ``needle`` (drives ``?contains=``)."""
        if not isinstance(self.messages, list):
            return False
        return any(
            isinstance(message, dict) and needle in message_text(message.get("content"))
            for message in self.messages
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "start": self.start,
            "end": self.end,
            "tokens": self.tokens,
            "disconnected": self.disconnected,
            "status": self.status,
            "stream": self.stream,
            "reply": self.reply,
            "model": self.model,
            "tool_calls": list(self.tool_calls),
            "tool_results": self.tool_results,
            "token_times": list(self.token_times),
            "messages": self.messages,
        }


class RequestLog:
    """Bounded, arrival-ordered request log.

    ``seq`` keeps counting across :meth:`clear` because tool-call ids are derived from it and
    must stay unique for the life of the process.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def open(self) -> LogEntry:
        entry = LogEntry(seq=next(self._seq), start=time.time())
        self._entries.append(entry)
        return entry

    def snapshot(self, contains: str | None = None) -> list[dict[str, Any]]:
        return [
            entry.to_json()
            for entry in self._entries
            if contains is None or entry.mentions(contains)
        ]

    def clear(self) -> None:
        self._entries.clear()
