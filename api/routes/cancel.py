"""Stop: cancel one run (interrupt or rollback) or many at once.

The stop travels to the turn workflow as Temporal's cancellation reason (StopRequest), so
who stopped a turn, how and why is recorded in the workflow history itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from fastapi.responses import JSONResponse

from api.deps import CallerDep, RunId, RunsDep, ThreadId
from api.openapi import errors
from api.responses import Cancelled, Run, success
from api.schemas import BulkCancel, CancelAction, CancelBody
from api.views import run_json
from core.contracts import StopRequest

router = APIRouter(tags=["runs"])


@router.post(
    "/threads/{thread_id}/runs/{run_id}/cancel",
    responses={
        200: {"model": Run, "description": "The run once it has ended (wait=true)"},
        202: {"model": Run, "description": "Stop requested (wait=false): the run as it is now"},
        **errors(401, 404, 409, 413, 422, 502, 503),
    },
)
async def cancel_run(
    thread_id: ThreadId,
    run_id: RunId,
    runs: RunsDep,
    caller: CallerDep,
    wait: bool = False,
    action: CancelAction = "interrupt",
    reason: Annotated[str | None, Query()] = None,
    body: Annotated[CancelBody | None, Body()] = None,
) -> JSONResponse:
    """wait=true answers once the turn has ended, with its outcome: what was kept, what was
    undone, or outcome "completed" if the turn finished before the stop took effect."""
    text = reason or (body.reason if body is not None else None) or "stopped by the user"
    stop = StopRequest(action=action, actor=caller, reason=text)
    run = await runs.stops.cancel(thread_id, run_id, stop, wait=wait)
    code = status.HTTP_200_OK if wait else status.HTTP_202_ACCEPTED
    return JSONResponse(run_json(run), status_code=code)


@router.post(
    "/runs/cancel",
    response_model=None,
    responses={**success(Cancelled), **errors(401, 413, 422, 502, 503)},
)
async def cancel_runs(
    body: BulkCancel,
    runs: RunsDep,
    caller: CallerDep,
    action: CancelAction = "interrupt",
    reason: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """langgraph_sdk's runs.cancel_many: by thread and/or run ids, or by status."""
    stop = StopRequest(action=action, actor=caller, reason=reason or "stopped by the user")
    return {"cancelled": await runs.stops.cancel_many(body, stop)}
