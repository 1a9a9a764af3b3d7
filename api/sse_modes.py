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
        finished = bool((message.get("response_metadata") or {}).get("finish_reason"))
        return [*out, ("messages/complete" if finished else "messages/partial", [shown])]


class EventsMode:
    """The `events` stream mode: astream_events (v2) records for what the run does."""

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id

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
            return [
                self._event("on_chat_model_stream", model, {"chunk": message}, metadata=metadata)
            ]
        name = str(message.get("name") or "tool")
        return [self._event("on_tool_end", name, {"output": message}, metadata=metadata)]

    def updates(self, body: bytes) -> list[Frame]:
        update = orjson.loads(body)
        if not isinstance(update, dict):
            return []
        return [self._event("on_chain_end", node, {"output": out}) for node, out in update.items()]

    def values(self, values: bytes) -> list[Frame]:
        return [self._event("on_chain_stream", "LangGraph", {"chunk": orjson.loads(values)})]

    def end(self, body: bytes) -> list[Frame]:
        return [self._event("on_chain_end", "LangGraph", {"output": orjson.loads(body)})]
