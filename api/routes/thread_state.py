"""A thread's state: current, at a checkpoint, its history, updating it; patch and copy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from api.deps import CallerDep, StatesDep, ThreadId, ThreadsDep
from api.openapi import errors
from api.responses import Thread, ThreadState, success
from api.schemas import CheckpointRef, HistoryQuery, StateAt, StateUpdate, ThreadPatch

router = APIRouter(prefix="/threads/{thread_id}", tags=["threads"])
STATE = {**success(ThreadState), **errors(401, 404, 422)}


@router.get("/state", response_model=None, responses=STATE)
async def get_state(thread_id: ThreadId, states: StatesDep, caller: CallerDep) -> dict[str, Any]:
    return await states.current(thread_id, caller)


@router.get("/state/{checkpoint_id}", response_model=None, responses=STATE)
async def get_state_at(
    thread_id: ThreadId, checkpoint_id: str, states: StatesDep, caller: CallerDep
) -> dict[str, Any]:
    return await states.at(thread_id, checkpoint_id, caller)


@router.post("/state/checkpoint", response_model=None, responses={**STATE, **errors(413)})
async def post_state_at(
    thread_id: ThreadId, body: StateAt, states: StatesDep, caller: CallerDep
) -> dict[str, Any]:
    if body.checkpoint.checkpoint_id is None:
        return await states.current(thread_id, caller)
    return await states.at(thread_id, body.checkpoint.checkpoint_id, caller)


@router.post("/state", responses=errors(401, 404, 413, 422))
async def update_state(
    thread_id: ThreadId, body: StateUpdate, states: StatesDep, caller: CallerDep
) -> dict[str, Any]:
    """`update_state`: write values (messages merge by id) as a new checkpoint."""
    values = body.values if isinstance(body.values, dict) else {}
    on_top_of = body.checkpoint_id or (body.checkpoint.checkpoint_id if body.checkpoint else None)
    return await states.update(thread_id, caller, values, on_top_of)


HISTORY = {**success(list[ThreadState]), **errors(401, 404, 422)}


@router.get("/history", response_model=None, responses=HISTORY)
async def get_history(
    thread_id: ThreadId,
    states: StatesDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: str | None = None,
) -> list[dict[str, Any]]:
    return await states.history(thread_id, caller, limit=limit, before=before)


@router.post("/history", response_model=None, responses={**HISTORY, **errors(413)})
async def post_history(
    thread_id: ThreadId,
    states: StatesDep,
    caller: CallerDep,
    body: Annotated[HistoryQuery | None, Body()] = None,
) -> list[dict[str, Any]]:
    query = body or HistoryQuery()
    before = query.before.checkpoint_id if isinstance(query.before, CheckpointRef) else query.before
    return await states.history(
        thread_id, caller, limit=query.limit, before=before, metadata=query.metadata,
        checkpoint_id=query.checkpoint.checkpoint_id if query.checkpoint else None,
    )  # fmt: skip


@router.patch("", response_model=None, responses={**success(Thread), **errors(401, 404, 413, 422)})
async def patch_thread(
    thread_id: ThreadId, body: ThreadPatch, threads: ThreadsDep, caller: CallerDep
) -> dict[str, Any]:
    return await threads.patch(thread_id, caller, body.metadata)


@router.post("/copy", response_model=None, responses={**success(Thread), **errors(401, 404, 422)})
async def copy_thread(
    thread_id: ThreadId, threads: ThreadsDep, caller: CallerDep
) -> dict[str, Any]:
    return await threads.copy(thread_id, caller)
