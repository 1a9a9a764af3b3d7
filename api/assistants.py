"""Assistants: one per graph registry entry (langgraph.json style), read-only.

The registry in settings is the whole catalogue, so assistant ids and graph ids coincide,
as they do for the default assistants of a LangGraph Agent Server.
"""

from __future__ import annotations

from typing import Any

from api.errors import NotFoundError
from api.schemas import AssistantSearch
from core.settings import Settings
from stores.records import utc_now


class AssistantCatalog:
    def __init__(self, settings: Settings) -> None:
        self._graphs = dict(settings.graphs)
        self._created_at = utc_now()

    def graph_ref(self, assistant_id: str) -> str:
        """The graph's "module:attribute", which the turn workflow imports."""
        if assistant_id not in self._graphs:
            raise NotFoundError(self._unknown(assistant_id))
        return self._graphs[assistant_id]

    def get(self, assistant_id: str) -> dict[str, Any]:
        return self._json(assistant_id, self.graph_ref(assistant_id))

    def search(self, query: AssistantSearch) -> list[dict[str, Any]]:
        found = [self._json(key, ref) for key, ref in self._graphs.items()]
        if query.graph_id:
            found = [a for a in found if a["graph_id"] == query.graph_id]
        if query.name:
            found = [a for a in found if query.name.lower() in a["name"].lower()]
        if query.metadata:
            found = [a for a in found if _matches(a["metadata"], query.metadata)]
        return found[query.offset : query.offset + query.limit]

    def first_id(self) -> str | None:
        return next(iter(self._graphs), None)

    def _unknown(self, assistant_id: str) -> str:
        known = ", ".join(sorted(self._graphs)) or "none configured"
        return f"Assistant {assistant_id!r} not found (known assistants: {known})"

    def _json(self, key: str, ref: str) -> dict[str, Any]:
        return {
            "assistant_id": key,
            "graph_id": key,
            "name": key,
            "description": f"LangGraph graph {ref}; every turn runs as a Temporal workflow",
            "config": {},
            "context": {},
            "metadata": {},
            "version": 1,
            "created_at": self._created_at,
            "updated_at": self._created_at,
        }


def _matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(metadata.get(key) == value for key, value in wanted.items())
