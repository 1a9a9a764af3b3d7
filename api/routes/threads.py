"""Threads: create, read, search, delete, and the thread's current state."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status

from api.deps import CallerDep, ThreadId, ThreadsDep
from api.openapi import errors
from api.responses import Thread, success
from api.schemas import ThreadCreate, ThreadSearch

router = APIRouter(prefix="/threads", tags=["threads"])


@router.post("", response_model=None, responses={**success(Thread), **errors(401, 409, 413, 422)})
async def create_thread(
    threads: ThreadsDep, caller: CallerDep, body: Annotated[ThreadCreate | None, Body()] = None
) -> dict[str, Any]:
    return await threads.create(body or ThreadCreate(), caller)


@router.post(
    "/search", response_model=None, responses={**success(list[Thread]), **errors(401, 413, 422)}
)
async def search_threads(
    threads: ThreadsDep, caller: CallerDep, body: Annotated[ThreadSearch | None, Body()] = None
) -> list[dict[str, Any]]:
    return await threads.search(body or ThreadSearch(), caller)


@router.get(
    "/{thread_id}", response_model=None, responses={**success(Thread), **errors(401, 404, 422)}
)
async def get_thread(thread_id: ThreadId, threads: ThreadsDep, caller: CallerDep) -> dict[str, Any]:
    return await threads.get(thread_id, caller)


@router.delete(
    "/{thread_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 404, 422, 502, 503),
)
async def delete_thread(thread_id: ThreadId, threads: ThreadsDep, caller: CallerDep) -> Response:
    await threads.delete(thread_id, caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
