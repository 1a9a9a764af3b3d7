"""Stream modes the API derives from the live events, per client: LangGraph's legacy
`messages` mode (`messages/metadata`, `messages/partial`, `messages/complete`) and the
`events` mode (astream_events v2 records). Both cost JSON work per token, so they run
only for the clients that ask for them."""

from __future__ import annotations

from typing import Any

import orjson
from langchain_core.messages import AIMessageChunk

Frame = tuple[str, Any]


class LegacyMessages:
    """Accumulates each message's chunks, as LangGraph's `messages` mode shows them."""

    def __init__(self) -> None:
        self._chunks: dict[str, AIMessageChunk] = {}
        self._announced: set[str] = set()

    def frames(self, body: bytes) -> list[Frame]:
        message, metadata = orjson.loads(body)
        message_id = message.get("id") or ""
        out: list[Frame] = []
        if message_id not in self._announced:
            self._announced.add(message_id)
            out.append(("messages/metadata", {message_id: {"metadata": metadata}}))
        if message.get("type") != "AIMessageChunk":  # a whole message (a tool result)
            return [*out, ("messages/complete", [message])]
        chunk = AIMessageChunk.model_validate(message)
        merged = self._chunks[message_id] + chunk if message_id in self._chunks else chunk
        self._chunks[message_id] = merged
        shown = {**merged.model_dump(mode="json"), "type": "ai", "id": message_id}
        # As the Agent Server: a streamed message stays `partial` to its last chunk; only a
        # message that arrives whole is `complete`.
        return [*out, ("messages/partial", [shown])]


class EventsMode:
    """The `events` stream mode: astream_events (v2) records for what the run does."""

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id
        self._models_started: set[str] = set()

    def _event(self, kind: str, name: str, data: dict[str, Any], metadata: Any = None) -> Frame:
        record: dict[str, Any] = {
            "event": kind,
            "name": name,
            "run_id": self._run_id,
            "tags": [],
            "metadata": metadata or {},
            "data": data,
            "parent_ids": [],
        }
        return ("events", record)

    def messages(self, body: bytes) -> list[Frame]:
        message, metadata = orjson.loads(body)
        if message.get("type") == "AIMessageChunk":
            model = str(metadata.get("ls_model_name") or "model")
            out: list[Frame] = []
            if message.get("id") not in self._models_started:  # a model call's first chunk
                self._models_started.add(message.get("id"))
                out.append(self._event("on_chat_model_start", model, {"input": {}}, metadata))
            chunk = self._event("on_chat_model_stream", model, {"chunk": message}, metadata)
            return [*out, chunk]
        name = str(message.get("name") or "tool")
        return [self._event("on_tool_end", name, {"output": message}, metadata=metadata)]

    def updates(self, body: bytes) -> list[Frame]:
        """A node's end; a model node's end also ends its model call and starts the tools
        it asked for (the tools node runs them next)."""
        update = orjson.loads(body)
        if not isinstance(update, dict):
            return []
        out: list[Frame] = []
        for node, written in update.items():
            for message in _ai_messages(written):
                out.append(self._event("on_chat_model_end", "model", {"output": message}))
                out += [
                    self._event("on_tool_start", str(call.get("name")), {"input": call.get("args")})
                    for call in message.get("tool_calls") or []
                ]
            out.append(self._event("on_chain_end", node, {"output": written}))
        return out

    def values(self, values: bytes) -> list[Frame]:
        return [self._event("on_chain_stream", "LangGraph", {"chunk": orjson.loads(values)})]

    def end(self, body: bytes) -> list[Frame]:
        return [self._event("on_chain_end", "LangGraph", {"output": orjson.loads(body)})]


def _ai_messages(written: Any) -> list[dict[str, Any]]:
    messages = written.get("messages") if isinstance(written, dict) else None
    if not isinstance(messages, list):
        return []
    return [m for m in messages if isinstance(m, dict) and m.get("type") == "ai"]
