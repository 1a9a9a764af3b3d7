"""Runs on a thread: create (background, streamed, waited), read, list, join, delete."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import WithJsonSchema

from api.deps import CallerDep, RunId, RunsDep, ThreadId, ThreadsDep
from api.openapi import errors, event_stream
from api.responses import Run, RunValues, success
from api.run_input import ALL_STREAM_MODES, check_stream_modes, normalize_stream_modes
from api.schemas import STREAM_MODES, RunCreate
from api.sse import SseMapper, StreamContext
from api.streaming import RunEventStream, event_stream_response
from api.views import final_values, run_json
from core.contracts import StopRequest
from stores.records import RunRecord

router = APIRouter(prefix="/threads/{thread_id}/runs", tags=["runs"])

_MODES_QUERY = {"type": "array", "items": {"enum": list(STREAM_MODES)}}
_CREATE_ERRORS = errors(401, 404, 409, 413, 422, 502, 503)
_READ_ERRORS = errors(401, 404, 422)
MAX_EVENT_ID = 2**63 - 1
_EVENT_ID = re.compile(r"[0-9]{1,19}")

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=256,
        description="Retrying a request with the same key returns the same run, never a second",
    ),
]


def _run_location(run: RunRecord) -> dict[str, str]:
    return {"Content-Location": f"/threads/{run.thread_id}/runs/{run.run_id}"}


@router.post("", responses={**success(Run), **_CREATE_ERRORS})
async def create_run(
    thread_id: ThreadId,
    body: RunCreate,
    runs: RunsDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    run = await runs.create(
        thread_id, body, caller, streaming=False, idempotency_key=idempotency_key
    )
    return JSONResponse(run_json(run), headers=_run_location(run))


@router.post(
    "/stream",
    response_class=Response,
    responses={**event_stream("The run's events, ending with `end`"), **_CREATE_ERRORS},
)
async def stream_run(
    request: Request,
    thread_id: ThreadId,
    body: RunCreate,
    runs: RunsDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    run = await runs.create(
        thread_id, body, caller, streaming=True, idempotency_key=idempotency_key
    )
    modes = run.kwargs.get("stream_mode") or []
    stop = _disconnect_stop(caller, enabled=body.on_disconnect == "cancel")
    return run_stream(request, runs, run, modes, cancel_on_disconnect=stop)


@router.post("/wait", responses={**success(RunValues), **_CREATE_ERRORS})
async def wait_run(
    thread_id: ThreadId,
    body: RunCreate,
    runs: RunsDep,
    threads: ThreadsDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    run = await runs.create(
        thread_id, body, caller, streaming=False, idempotency_key=idempotency_key
    )
    ended = await runs.waiter.wait_end(run)
    thread = await threads.record(thread_id, caller)
    values = final_values(ended, await threads.messages(thread_id), thread.interrupts)
    location = _run_location(run)
    headers = {**location, "Location": f"{location['Content-Location']}/join"}
    return JSONResponse(values, headers=headers)


@router.get("", response_model=None, responses={**success(list[Run]), **_READ_ERRORS})
async def list_runs(
    thread_id: ThreadId,
    runs: RunsDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    run_status: Annotated[
        str | None,
        Query(alias="status", pattern="^(pending|running|success|error|timeout|interrupted)$"),
    ] = None,
) -> list[dict[str, Any]]:
    found = await runs.list_runs(thread_id, caller, limit=limit, offset=offset, status=run_status)
    return [run_json(run) for run in found]


@router.get("/{run_id}", response_model=None, responses={**success(Run), **_READ_ERRORS})
async def get_run(
    thread_id: ThreadId, run_id: RunId, runs: RunsDep, caller: CallerDep
) -> dict[str, Any]:
    return run_json(await runs.get(thread_id, run_id, caller))


@router.get("/{run_id}/join", response_model=None, responses={**success(RunValues), **_READ_ERRORS})
async def join_run(
    thread_id: ThreadId, run_id: RunId, runs: RunsDep, threads: ThreadsDep, caller: CallerDep
) -> dict[str, Any]:
    run = await runs.join(thread_id, run_id, caller)
    thread = await threads.record(thread_id, caller)
    return final_values(run, await threads.messages(thread_id), thread.interrupts)


@router.get(
    "/{run_id}/stream",
    response_class=Response,
    responses={**event_stream("The run's events from the start or after Last-Event-ID"),
               **_READ_ERRORS},
)  # fmt: skip
async def join_run_stream(
    request: Request,
    thread_id: ThreadId,
    run_id: RunId,
    runs: RunsDep,
    caller: CallerDep,
    stream_mode: Annotated[list[str] | None, Query(), WithJsonSchema(_MODES_QUERY)] = None,
    cancel_on_disconnect: bool = False,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> Any:
    """Replays the run's events from the start, or resumes after Last-Event-ID (`-1`: from
    the start, as useStream's joinStream sends it)."""
    run = await runs.get(thread_id, run_id, caller)
    after_seq = _resume_point(last_event_id)
    requested = normalize_stream_modes(stream_mode)
    check_stream_modes(requested)
    modes = requested or run.kwargs.get("stream_mode") or list(ALL_STREAM_MODES)
    stop = _disconnect_stop(caller, enabled=cancel_on_disconnect)
    return run_stream(
        request, runs, run, modes,
        after_seq=after_seq or 0, with_metadata=after_seq is None, cancel_on_disconnect=stop,
    )  # fmt: skip


def run_stream(
    request: Request,
    runs: Any,
    run: RunRecord,
    modes: list[str],
    *,
    after_seq: int = 0,
    with_metadata: bool = True,
    cancel_on_disconnect: StopRequest | None,
) -> Any:
    services = request.app.state.services
    ctx = StreamContext(
        run_id=run.run_id,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        stream_modes=frozenset(modes),
        resumable=bool(run.kwargs.get("stream_resumable")),
    )
    stream = RunEventStream(
        runs,
        services.broker,
        services.thread_store,
        run,
        SseMapper(ctx, services.values),
        after_seq=after_seq,
        with_metadata=with_metadata,
        cancel_on_disconnect=cancel_on_disconnect,
    )
    return event_stream_response(stream, run)


def _disconnect_stop(caller: str, *, enabled: bool) -> StopRequest | None:
    """on_disconnect=cancel: the client that went away is the one who stopped the turn."""
    if not enabled:
        return None
    return StopRequest(action="interrupt", actor=caller, reason="client disconnected")


def _resume_point(last_event_id: str | None) -> int | None:
    """The broker sequence to resume after; None: a fresh join (with its metadata event)."""
    if last_event_id is None or not last_event_id.strip():
        return None
    text = last_event_id.strip()
    if text == "-1":
        return 0
    # ASCII digits only (str.isdigit() also takes "²", which int() refuses), and no more
    # than a broker sequence can be: NATS refuses a start beyond uint64.
    if not _EVENT_ID.fullmatch(text) or int(text) > MAX_EVENT_ID:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"Last-Event-ID must be an event id of this stream (an integer from 0 to "
            f"{MAX_EVENT_ID}, or -1 for the start), got {last_event_id!r}",
        )
    return int(text)


@router.delete(
    "/{run_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 404, 409, 422)
)
async def delete_run(
    thread_id: ThreadId, run_id: RunId, runs: RunsDep, caller: CallerDep
) -> Response:
    await runs.delete(thread_id, run_id, caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
