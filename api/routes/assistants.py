"""Assistants: the graph registry in settings, one assistant per graph."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from api.assistants import graph_json, graph_schemas, subgraphs
from api.deps import AssistantsDep
from api.openapi import errors
from api.responses import Assistant, success
from api.schemas import AssistantSearch

router = APIRouter(prefix="/assistants", tags=["assistants"])


@router.post(
    "/search", response_model=None, responses={**success(list[Assistant]), **errors(401, 413, 422)}
)
async def search_assistants(
    assistants: AssistantsDep, body: Annotated[AssistantSearch | None, Body()] = None
) -> list[dict[str, Any]]:
    return assistants.search(body or AssistantSearch())


@router.get(
    "/{assistant_id}",
    response_model=None,
    responses={**success(Assistant), **errors(401, 404, 422)},
)
async def get_assistant(assistant_id: str, assistants: AssistantsDep) -> dict[str, Any]:
    return assistants.get(assistant_id)


@router.get("/{assistant_id}/graph", responses=errors(401, 404, 422))
async def get_assistant_graph(
    assistant_id: str, assistants: AssistantsDep, xray: bool | int = False
) -> dict[str, Any]:
    return graph_json(assistants.graph_ref(assistant_id), xray)


@router.get("/{assistant_id}/schemas", responses=errors(401, 404, 422))
async def get_assistant_schemas(assistant_id: str, assistants: AssistantsDep) -> dict[str, Any]:
    return graph_schemas(assistant_id, assistants.graph_ref(assistant_id))


@router.get("/{assistant_id}/subgraphs", responses=errors(401, 404, 422))
async def get_assistant_subgraphs(assistant_id: str, assistants: AssistantsDep) -> dict[str, Any]:
    return subgraphs(assistants.graph_ref(assistant_id))
