"""Assistants: one per graph registry entry (langgraph.json style), read-only.

The registry in settings is the whole catalogue, so assistant ids and graph ids coincide,
as they do for the default assistants of a LangGraph Agent Server.
"""

from __future__ import annotations

import functools
from typing import Any

from api.errors import InvalidInputError, NotFoundError
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


@functools.cache
def _compiled(ref: str) -> Any:
    """Compiled once per process: a graph's definition does not change while it runs, and
    every run with breakpoints checks them against it."""
    from agents.registry import load_agent  # the agent's own module, imported on demand

    return load_agent(ref).graph.compile()


def graph_json(ref: str, xray: bool | int = False) -> dict[str, Any]:
    """The graph's nodes and edges, as LangGraph Studio and the Agent Server draw them."""
    drawn: dict[str, Any] = _compiled(ref).get_graph(xray=xray).to_json()
    return drawn


def graph_schemas(assistant_id: str, ref: str) -> dict[str, Any]:
    compiled = _compiled(ref)
    return {
        "graph_id": assistant_id,
        "input_schema": compiled.get_input_jsonschema(),
        "output_schema": compiled.get_output_jsonschema(),
        "state_schema": compiled.get_output_jsonschema(),
        "config_schema": compiled.get_config_jsonschema(),
        "context_schema": None,
    }


def subgraphs(ref: str) -> dict[str, Any]:
    return {namespace: {} for namespace, _ in _compiled(ref).get_subgraphs()}


def check_breakpoints(ref: str, before: Any, after: Any) -> None:
    """interrupt_before / interrupt_after must name nodes of the graph (or be "*")."""
    if before is None and after is None:
        return
    nodes = set(_compiled(ref).nodes) - {"__start__"}
    for field, names in (("interrupt_before", before), ("interrupt_after", after)):
        if names is None or names == "*":
            continue
        unknown = [name for name in names if name not in nodes]
        if unknown:
            raise InvalidInputError(
                f"{field} names {', '.join(map(repr, unknown))}, not a node of this graph; "
                f'its nodes: {", ".join(sorted(nodes))} (or "*" for all)'
            )
