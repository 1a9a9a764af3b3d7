"""The life of one run: start it, learn its status, wait for it, stop it.

Status comes from Temporal for started runs and is cached in the run store once terminal.
Waiting for an enqueued run to start uses in-process events, which is one reason multitask
guarantees (enqueue order, one active run per thread) hold only with a single API replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio.contrib.workflow_streams import WorkflowStreamItem

from api.errors import (
    ConflictError,
    NotFoundError,
    TemporalRequestError,
    TemporalUnavailableError,
)
from api.records import (
    TERMINAL_STATUSES,
    RunRecord,
    RunView,
    outcome_from_dict,
    outcome_to_dict,
)
from api.run_input import SUMMARY_CHARS, preview_text
from api.run_store import RunStore
from api.temporal_gateway import TemporalGateway
from core.contracts import StopRequest, TurnEvent, TurnInput, TurnOutcome
from core.settings import Settings


class RunTracker:
    def __init__(self, settings: Settings, store: RunStore, gateway: TemporalGateway) -> None:
        self._settings = settings
        self._store = store
        self._gateway = gateway
        self._settled: dict[str, asyncio.Event] = {}
        """run id -> set when an unstarted run starts or is dropped."""
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def thread_lock(self, thread_id: str) -> AsyncIterator[None]:
        """Serialises run creation, start and pending-run cancels on one thread."""
        lock = self._locks.setdefault(thread_id, asyncio.Lock())
        async with lock:
            yield

    def forget_thread(self, thread_id: str) -> None:
        self._locks.pop(thread_id, None)

    async def view(self, run: RunRecord) -> RunView:
        if run.status is not None:
            return RunView(record=run, status=run.status, outcome=outcome_from_dict(run.outcome))
        if not run.started:
            return RunView(record=run, status="pending")
        status, outcome = await self._gateway.resolve(run.thread_id, run.run_id)
        if status in TERMINAL_STATUSES:
            return await self._settle(run, status, outcome)
        return RunView(record=run, status=status)

    async def _settle(self, run: RunRecord, status: str, outcome: TurnOutcome | None) -> RunView:
        stored = await self._store.settle(run, status, outcome_to_dict(outcome))
        self._notify(run.run_id)
        return await self.view(stored)

    def _notify(self, run_id: str) -> None:
        event = self._settled.pop(run_id, None)
        if event is not None:
            event.set()

    async def start(self, run: RunRecord) -> RunRecord:
        """Start the turn workflow; a run Temporal refuses ends as an error."""
        messages = run.input_messages
        graph_ref = self._settings.graphs.get(run.assistant_id)
        if graph_ref is None:  # the registry changed while the run was enqueued
            detail = f"Assistant {run.assistant_id!r} is no longer configured"
            await self._settle(run, "error", _failure(detail))
            raise NotFoundError(detail)
        turn = TurnInput(
            thread_id=run.thread_id,
            run_id=run.run_id,
            assistant_id=run.assistant_id,
            graph_id=graph_ref,
            user_id=run.user_id,
            input_messages=messages,
            model_name=self._settings.model_name,
            heartbeat_timeout_seconds=self._settings.heartbeat.timeout_seconds,
            model_max_attempts=self._settings.model.max_attempts,
        )
        try:
            await self._gateway.start_turn(
                turn,
                preview=preview_text(messages),
                summary=preview_text(messages, SUMMARY_CHARS),
            )
        except (TemporalUnavailableError, TemporalRequestError) as exc:
            await self._settle(run, "error", _failure(str(exc)))
            raise
        started = await self._store.mark_started(run)
        self._notify(run.run_id)
        return started

    async def wait_started(self, run: RunRecord) -> RunRecord:
        """The run's record once it has started or was dropped before starting."""
        # Register before re-reading, so a start between the read and the wait is not missed.
        event = self._settled.setdefault(run.run_id, asyncio.Event())
        fresh = await self._store.get_run(run.thread_id, run.run_id) or run
        if fresh.started or fresh.status is not None:
            self._notify(run.run_id)  # wakes any other waiter that registered the same event
            return fresh
        await event.wait()
        return await self._store.get_run(run.thread_id, run.run_id) or fresh

    async def wait_end(self, run: RunRecord) -> RunView:
        run = await self.wait_started(run)
        if run.started and run.status is None:
            await self._gateway.wait_closed(run.thread_id, run.run_id)
        return await self.view(run)

    async def drop_pending(self, run: RunRecord, stop: StopRequest) -> RunView:
        """Stop a run that never started; callers hold the thread lock."""
        outcome = TurnOutcome(
            status="interrupted", turn_status="stopped", stop=stop, outcome="interrupted"
        )
        return await self._settle(run, "interrupted", outcome)

    async def cancel_started(self, run: RunRecord, stop: StopRequest) -> RunView:
        """Ask Temporal to stop the turn; a second request for the same run is a no-op."""
        if not await self._gateway.cancel(run.thread_id, run.run_id, stop):
            view = await self.view(run)
            if not view.active:
                raise ConflictError(ended_detail(view))
            return view
        return RunView(record=run, status="running")

    def subscribe(
        self, run: RunRecord, from_offset: int
    ) -> AsyncIterator[WorkflowStreamItem[TurnEvent]]:
        return self._gateway.subscribe(run.thread_id, run.run_id, from_offset)

    async def refresh(self, run: RunRecord) -> RunRecord:
        return await self._store.get_run(run.thread_id, run.run_id) or run


def ended_detail(view: RunView) -> str:
    return (
        f"Run {view.record.run_id} already ended with status '{view.status}'; "
        "there is nothing to stop."
    )


def _failure(error: str) -> TurnOutcome:
    return TurnOutcome(status="error", turn_status="error", outcome="error", error=error)
