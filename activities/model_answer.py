"""One model answer as it streams: each chunk's live event, and the message at the end.

This runs once per token, so it does the least it can: a text chunk becomes its event by
filling a byte template (no dict, no model_dump), and the text is kept in a list and joined
once at the end instead of merging message chunks on every token. Only the rare chunks that
carry tool-call pieces, usage or call-level metadata (why it finished, the model's name) are
kept as chunks and merged, once.
"""

from __future__ import annotations

from typing import Any

import orjson
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.messages.utils import message_chunk_to_message

PER_CHUNK_METADATA = frozenset({"model_provider"})
"""Metadata langchain-openai puts on every chunk of a call: it makes no chunk special."""


class Answer:
    def __init__(self, message_id: str, metadata: dict[str, Any]) -> None:
        self.message_id = message_id
        self.tokens = 0
        self.stopped = False
        self._texts: list[str] = []
        self._special: list[AIMessageChunk] = []
        self._metadata = orjson.dumps(metadata)
        self._text_tails: dict[tuple[tuple[str, Any], ...], bytes] = {}

    def add(self, chunk: AIMessageChunk) -> bytes | None:
        """Record the chunk; its `messages-tuple` body, or None if there is nothing to show."""
        text = chunk.content if isinstance(chunk.content, str) else _text(chunk.content)
        if text:
            self._texts.append(text)
            self.tokens += 1
        if chunk.tool_call_chunks or chunk.usage_metadata or not _only_per_chunk_metadata(chunk):
            self._special.append(chunk.model_copy(update={"content": ""}))
            return self._chunk_body(chunk.model_copy(update={"content": text}))
        if not text:
            return None
        return b'[{"content":' + orjson.dumps(text) + self._text_tail(chunk.response_metadata)

    def _text_tail(self, response_metadata: dict[str, Any]) -> bytes:
        """Everything of a text chunk's body after its content, dumped once per call (the
        metadata is the same on every chunk)."""
        key = tuple(response_metadata.items())  # string values only (PER_CHUNK_METADATA)
        tail = self._text_tails.get(key)
        if tail is None:
            empty = AIMessageChunk(content="", response_metadata=response_metadata)
            tail = self._text_tails[key] = self._chunk_body(empty).removeprefix(_EMPTY_CONTENT)
        return tail

    def _chunk_body(self, chunk: AIMessageChunk) -> bytes:
        data = chunk.model_dump(mode="json")
        data["id"] = self.message_id
        return b"[" + orjson.dumps(data) + b"," + self._metadata + b"]"

    def closing_chunk(self) -> bytes:
        """The last chunk of the message: empty, with why it finished."""
        reason = "stopped" if self.stopped else self._finish_reason() or "stop"
        chunk = AIMessageChunk(content="", response_metadata={"finish_reason": reason})
        return self._chunk_body(chunk)

    def _finish_reason(self) -> str | None:
        for chunk in reversed(self._special):
            reason = chunk.response_metadata.get("finish_reason")
            if reason:
                return str(reason)
        return None

    def message(self) -> AIMessage:
        text = "".join(self._texts)
        if self.stopped or not self._special:
            return AIMessage(content=text, id=self.message_id)
        first, *rest = self._special
        merged = add_ai_message_chunks(first, *rest) if rest else first
        message = message_chunk_to_message(merged.model_copy(update={"content": text}))
        assert isinstance(message, AIMessage)
        message.id = self.message_id
        return message


_EMPTY_CONTENT = b'[{"content":""'


def _only_per_chunk_metadata(chunk: AIMessageChunk) -> bool:
    return chunk.response_metadata.keys() <= PER_CHUNK_METADATA


def _text(content: list[Any]) -> str:
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
