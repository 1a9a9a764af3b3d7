"""Runs on a thread: create (with multitask strategies), read, join, cancel, delete.

Multitask guarantees (reject / interrupt / rollback / enqueue, one active run per thread)
rest on an in-process lock per thread, so they hold only with a single API replica.
Enqueued runs are started by a per-thread background task once the active run ends.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from api.assistants import AssistantCatalog
from api.errors import ApiError, ConflictError, InvalidInputError, NotFoundError
from api.records import RunRecord, RunView
from api.run_input import new_run_record, superseding_stop
from api.run_store import RunStore
from api.run_tracker import RunTracker, ended_detail
from api.schemas import BulkCancel, RunCreate
from core.contracts import StopRequest

logger = logging.getLogger(__name__)

REJECT_DETAIL = (
    "Thread is already running a task. Wait for it to finish or choose a different "
    "multitask strategy."
)
_RETRY_SECONDS = 2.0


class RunsService:
    def __init__(self, store: RunStore, tracker: RunTracker, assistants: AssistantCatalog) -> None:
        self._store = store
        self.tracker = tracker
        self._assistants = assistants
        self._drainers: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # --- lifecycle ------------------------------------------------------------------------

    async def resume(self) -> None:
        """After a restart, enqueued runs still wait for their turn."""
        for run in await self._store.unsettled_runs():
            if not run.started:
                self._ensure_drainer(run.thread_id)

    async def shutdown(self) -> None:
        tasks = [*self._drainers.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- create ---------------------------------------------------------------------------

    async def create(
        self, thread_id: str, body: RunCreate, caller: str, *, streaming: bool
    ) -> RunView:
        """Validate, apply the multitask strategy, then start the run or enqueue it."""
        await self._require_thread(thread_id)
        self._assistants.graph_ref(body.assistant_id)
        run = new_run_record(thread_id, body, caller, streaming=streaming)
        async with self.tracker.thread_lock(thread_id):
            active = await self._active(thread_id)
            if active and run.multitask_strategy == "reject":
                raise ConflictError(REJECT_DETAIL)
            if active and run.multitask_strategy in ("interrupt", "rollback"):
                await self._supersede(active, superseding_stop(run))
                active = []
            await self._store.insert_run(run)
            await self._store.touch_thread(thread_id)
            if not active:
                return RunView(record=await self.tracker.start(run), status="running")
        self._ensure_drainer(thread_id)
        return RunView(record=run, status="pending")

    async def _active(self, thread_id: str) -> list[RunView]:
        runs = await self._store.unsettled_runs(thread_id)
        views = [await self.tracker.view(run) for run in runs]
        return [view for view in views if view.active]

    async def _supersede(self, active: list[RunView], stop: StopRequest) -> None:
        """Stop every active run and wait until each has ended (rollbacks included)."""
        for view in active:
            if not view.record.started:
                await self.tracker.drop_pending(view.record, stop)
                continue
            try:
                await self.tracker.cancel_started(view.record, stop)
            except ConflictError:
                continue  # it ended on its own meanwhile
            await self.tracker.wait_end(view.record)

    def _ensure_drainer(self, thread_id: str) -> None:
        task = self._drainers.get(thread_id)
        if task is None or task.done():
            self._drainers[thread_id] = asyncio.create_task(self._drain(thread_id))

    async def _drain(self, thread_id: str) -> None:
        """Start enqueued runs one by one, each after the previous one has ended."""
        while True:
            try:
                if not await self._start_next(thread_id):
                    return
            except ApiError as exc:
                logger.warning("enqueued runs of thread %s wait: %s", thread_id, exc)
                await asyncio.sleep(_RETRY_SECONDS)
            except Exception:
                logger.exception("enqueued runs of thread %s wait after an error", thread_id)
                await asyncio.sleep(_RETRY_SECONDS)

    async def _start_next(self, thread_id: str) -> bool:
        """Wait for the running run or start the oldest pending one; False when none is left."""
        running = [view for view in await self._active(thread_id) if view.record.started]
        for view in running:
            await self.tracker.wait_end(view.record)
        if running:
            return True
        async with self.tracker.thread_lock(thread_id):
            pending = [r for r in await self._store.unsettled_runs(thread_id) if not r.started]
            if not pending:
                return False
            try:
                await self.tracker.start(pending[0])
            except ApiError as exc:
                logger.error("enqueued run %s could not start: %s", pending[0].run_id, exc)
        return True

    # --- read -----------------------------------------------------------------------------

    async def get(self, thread_id: str, run_id: str) -> RunView:
        return await self.tracker.view(await self.record(thread_id, run_id))

    async def record(self, thread_id: str, run_id: str) -> RunRecord:
        await self._require_thread(thread_id)
        run = await self._store.get_run(thread_id, run_id)
        if run is None:
            raise NotFoundError(f"Run {run_id} not found in thread {thread_id}")
        return run

    async def list_runs(
        self, thread_id: str, *, limit: int, offset: int, status: str | None
    ) -> list[RunView]:
        await self._require_thread(thread_id)
        if status is None:
            runs = await self._store.list_runs(thread_id, limit, offset)
            return [await self.tracker.view(run) for run in runs]
        runs = await self._store.list_runs(thread_id, limit=-1)
        views = [await self.tracker.view(run) for run in runs]
        return [view for view in views if view.status == status][offset : offset + limit]

    async def join(self, thread_id: str, run_id: str) -> RunView:
        return await self.tracker.wait_end(await self.record(thread_id, run_id))

    async def thread_status(self, thread_id: str) -> str:
        if await self._active(thread_id):
            return "busy"
        latest = await self._store.list_runs(thread_id, limit=1)
        return "error" if latest and latest[0].status in ("error", "timeout") else "idle"

    # --- stop -----------------------------------------------------------------------------

    async def cancel(
        self, thread_id: str, run_id: str, stop: StopRequest, *, wait: bool
    ) -> RunView:
        run = await self.record(thread_id, run_id)
        view = await self._stop(run, stop)
        return await self.tracker.wait_end(run) if wait else view

    async def _stop(self, run: RunRecord, stop: StopRequest) -> RunView:
        if not run.started and run.status is None:
            async with self.tracker.thread_lock(run.thread_id):
                run = await self.tracker.refresh(run)
                if not run.started and run.status is None:
                    return await self.tracker.drop_pending(run, stop)
        if run.status is not None:  # known to have ended: no need to ask Temporal
            raise ConflictError(ended_detail(await self.tracker.view(run)))
        # Straight to the cancel (a closed workflow answers NotFound -> 409): every RPC
        # before it would add to the time until the model stream is closed.
        return await self.tracker.cancel_started(run, stop)

    async def cancel_many(self, body: BulkCancel, stop: StopRequest) -> list[str]:
        """Stop every matching active run; ones that already ended are skipped, not errors."""
        if not (body.thread_id or body.run_ids or body.status):
            raise InvalidInputError("Give thread_id and/or run_ids, or a status filter")
        wanted = {"pending", "running"} if body.status in (None, "all") else {body.status}
        stopped: list[str] = []
        for run in await self._store.unsettled_runs(body.thread_id):
            if body.run_ids and run.run_id not in body.run_ids:
                continue
            if (await self.tracker.view(run)).status not in wanted:
                continue
            try:
                await self._stop(run, stop)
            except ConflictError:
                continue
            stopped.append(run.run_id)
        return stopped

    def cancel_in_background(self, run: RunRecord, stop: StopRequest) -> None:
        """For a client that went away: nobody is left to hear about failures but the log."""
        task = asyncio.create_task(self._cancel_quietly(run, stop))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _cancel_quietly(self, run: RunRecord, stop: StopRequest) -> None:
        try:
            await self._stop(await self.tracker.refresh(run), stop)
        except ConflictError:
            pass
        except ApiError as exc:
            logger.warning("could not cancel run %s after disconnect: %s", run.run_id, exc)

    async def stop_thread(self, thread_id: str, stop: StopRequest) -> None:
        for view in await self._active(thread_id):
            try:
                await self._stop(view.record, stop)
            except ConflictError:
                continue
        task = self._drainers.pop(thread_id, None)
        if task is not None:
            task.cancel()
        self.tracker.forget_thread(thread_id)

    async def delete(self, thread_id: str, run_id: str) -> None:
        view = await self.get(thread_id, run_id)
        if view.active:
            raise ConflictError(
                f"Run {run_id} is still {view.status}; cancel it before deleting it"
            )
        await self._store.delete_run(thread_id, run_id)

    async def _require_thread(self, thread_id: str) -> None:
        if await self._store.get_thread(thread_id) is None:
            raise NotFoundError(f"Thread {thread_id} not found")
