"""Stateless runs (`POST /runs`, `/runs/stream`, `/runs/wait`): a run on a thread of its own,
made for it and, by default (`on_completion: "delete"`), deleted once the run has ended.

`/runs/wait` and `/runs/stream` delete it as soon as they have answered. Whatever nobody
waited for (a background `POST /runs`, a stream whose client left) the thread workflow
deletes `limits.temporary_thread_seconds` after the run's end, so the outcome can still be
read meanwhile and no thread is left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.deps import CallerDep, RunsDep, ThreadsDep
from api.openapi import errors, event_stream
from api.responses import Run, RunValues, success
from api.routes.runs import run_stream
from api.runs_service import RunsService
from api.schemas import RunCreate, ThreadCreate
from api.threads_service import ThreadsService
from api.views import final_values, run_json
from stores.records import RunRecord

router = APIRouter(prefix="/runs", tags=["runs"])
_ERRORS = errors(401, 404, 409, 413, 422, 502, 503)


async def _run_on_new_thread(
    runs: RunsService, threads: ThreadsService, body: RunCreate, caller: str, *, streaming: bool
) -> RunRecord:
    """The run, on a thread made for it (temporary unless `on_completion: "keep"`)."""
    thread_id = str(uuid.uuid4())
    await threads.create(ThreadCreate(thread_id=thread_id, metadata=body.metadata), caller)
    return await runs.create(
        thread_id, body, caller, streaming=streaming, temporary_thread=_deletes(body)
    )


def _deletes(body: RunCreate) -> bool:
    return (body.on_completion or "delete") == "delete"


@router.post("", responses={**success(Run), **_ERRORS})
async def create_stateless_run(
    body: RunCreate, runs: RunsDep, threads: ThreadsDep, caller: CallerDep
) -> JSONResponse:
    run = await _run_on_new_thread(runs, threads, body, caller, streaming=False)
    return JSONResponse(run_json(run))


@router.post("/wait", responses={**success(RunValues), **_ERRORS})
async def wait_stateless_run(
    body: RunCreate, runs: RunsDep, threads: ThreadsDep, caller: CallerDep
) -> JSONResponse:
    run = await _run_on_new_thread(runs, threads, body, caller, streaming=False)
    ended = await runs.waiter.wait_end(run)
    thread = await threads.record(run.thread_id, caller)
    values = final_values(ended, await threads.messages(run.thread_id), thread.interrupts)
    if _deletes(body) and not ended.active:
        await threads.delete(run.thread_id, caller)
    return JSONResponse(values)


@router.post(
    "/stream",
    response_class=Response,
    responses={**event_stream("The run's events, ending with `end`"), **_ERRORS},
)
async def stream_stateless_run(
    request: Request, body: RunCreate, runs: RunsDep, threads: ThreadsDep, caller: CallerDep
) -> Any:
    run = await _run_on_new_thread(runs, threads, body, caller, streaming=True)
    modes = run.kwargs.get("stream_mode") or []
    response = run_stream(request, runs, run, modes, cancel_on_disconnect=None)
    if _deletes(body):
        response.body_iterator = _then_delete(response.body_iterator, threads, run, caller)
    return response


async def _then_delete(
    frames: AsyncIterator[Any], threads: ThreadsService, run: RunRecord, caller: str
) -> AsyncIterator[Any]:
    async for frame in frames:
        yield frame
    ended = await threads.run_ended(run)
    if ended:
        await threads.delete(run.thread_id, caller)
