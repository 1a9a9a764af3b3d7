"""Runs on a thread: create (background, streamed, waited), read, list, join, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse

from api.deps import CallerDep, RunsDep, ThreadsDep
from api.records import RunView
from api.run_input import ALL_STREAM_MODES, normalize_stream_modes
from api.schemas import RunCreate
from api.streaming import RunEventStream, event_stream_response, stream_context
from api.views import final_values, run_json
from core.contracts import StopRequest

router = APIRouter(prefix="/threads/{thread_id}/runs", tags=["runs"])


def _run_location(view: RunView) -> dict[str, str]:
    return {"Content-Location": f"/threads/{view.record.thread_id}/runs/{view.record.run_id}"}


@router.post("")
async def create_run(
    thread_id: str, body: RunCreate, runs: RunsDep, caller: CallerDep
) -> JSONResponse:
    view = await runs.create(thread_id, body, caller, streaming=False)
    return JSONResponse(run_json(view), headers=_run_location(view))


@router.post("/stream", response_class=Response)
async def stream_run(thread_id: str, body: RunCreate, runs: RunsDep, caller: CallerDep) -> Any:
    view = await runs.create(thread_id, body, caller, streaming=True)
    run = view.record
    modes = run.kwargs.get("stream_mode") or []
    stop = _disconnect_stop(caller, enabled=body.on_disconnect == "cancel")
    stream = RunEventStream(runs, run, stream_context(run, modes), cancel_on_disconnect=stop)
    return event_stream_response(stream, run)


@router.post("/wait")
async def wait_run(
    thread_id: str, body: RunCreate, runs: RunsDep, threads: ThreadsDep, caller: CallerDep
) -> JSONResponse:
    view = await runs.create(thread_id, body, caller, streaming=False)
    ended = await runs.tracker.wait_end(view.record)
    values = final_values(ended, await threads.messages(thread_id))
    headers = {**_run_location(view), "Location": f"{_run_location(view)['Content-Location']}/join"}
    return JSONResponse(values, headers=headers)


@router.get("")
async def list_runs(
    thread_id: str,
    runs: RunsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    run_status: Annotated[str | None, Query(alias="status")] = None,
) -> list[dict[str, Any]]:
    views = await runs.list_runs(thread_id, limit=limit, offset=offset, status=run_status)
    return [run_json(view) for view in views]


@router.get("/{run_id}")
async def get_run(thread_id: str, run_id: str, runs: RunsDep) -> dict[str, Any]:
    return run_json(await runs.get(thread_id, run_id))


@router.get("/{run_id}/join")
async def join_run(
    thread_id: str, run_id: str, runs: RunsDep, threads: ThreadsDep
) -> dict[str, Any]:
    view = await runs.join(thread_id, run_id)
    return final_values(view, await threads.messages(thread_id))


@router.get("/{run_id}/stream", response_class=Response)
async def join_run_stream(
    thread_id: str,
    run_id: str,
    runs: RunsDep,
    caller: CallerDep,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    cancel_on_disconnect: bool = False,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Any:
    """Replays the run's events from the start, or resumes after Last-Event-ID."""
    run = await runs.record(thread_id, run_id)
    from_offset, skip_through = _resume_point(last_event_id)
    modes = (
        normalize_stream_modes(stream_mode)
        or run.kwargs.get("stream_mode")
        or list(ALL_STREAM_MODES)
    )
    stream = RunEventStream(
        runs,
        run,
        stream_context(run, modes),
        from_offset=from_offset,
        skip_through=skip_through,
        with_metadata=last_event_id is None,
        cancel_on_disconnect=_disconnect_stop(caller, enabled=cancel_on_disconnect),
    )
    return event_stream_response(stream, run)


def _disconnect_stop(caller: str, *, enabled: bool) -> StopRequest | None:
    """on_disconnect=cancel: the client that went away is the one who stopped the turn."""
    if not enabled:
        return None
    return StopRequest(action="interrupt", actor=caller, reason="client disconnected")


def _resume_point(last_event_id: str | None) -> tuple[int, int | None]:
    """Where to resume after Last-Event-ID: `N` resumes at offset N+1; `N.i` (a token of a
    batch) replays offset N from its token i+1."""
    if last_event_id is None or not last_event_id.strip():
        return 0, None
    offset_text, _, index_text = last_event_id.strip().partition(".")
    try:
        offset = int(offset_text)
        index = int(index_text) if index_text else None
    except ValueError:
        offset, index = -1, None
    if offset < 0 or (index is not None and index < 0):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Last-Event-ID must be an event id of this stream (`N` or `N.i`, integers >= 0), "
            f"got {last_event_id!r}",
        )
    return (offset, index) if index is not None else (offset + 1, None)


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_run(thread_id: str, run_id: str, runs: RunsDep) -> Response:
    await runs.delete(thread_id, run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
