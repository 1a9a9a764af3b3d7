"""Stopping runs: record the stop, hand it to Temporal and announce it on the broker.

The stop is claimed in the run's record first (who, how and why, once per run). Then two
things happen together:
- Temporal's cancel of the turn, with the stop as its reason: the authoritative decision,
  in the turn's history, which governs the outcome, "no call after the stop" and
  compensation;
- the broker's stop notice, which makes the running model or tool call stop at once.

They go out together because the notice decides nothing. A call stopped by it returns what
it has, marked stopped, and the turn waits for the cancel before it settles
(workflows.turn_session). Sending the notice only after Temporal answered added that
round trip to every Stop: under load, about half of the time from Stop to the model's
stream closing (measured back to back, p50: one stream 15 -> 9 ms, 20 streams 60 -> 27 ms).

If Temporal cannot be reached, the notice may already have stopped the call, so the stop
stays recorded. The caller gets 503 (repeating the stop is safe), and the API keeps handing
the stop to Temporal in the background until it lands or the run ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from api.errors import ConflictError, InvalidInputError, TemporalUnavailableError
from api.run_waiter import RunWaiter
from api.schemas import BulkCancel
from api.stop_notices import StopNotices
from api.temporal_gateway import TemporalGateway
from core.contracts import StopRequest
from stores.record_store import RecordStore
from stores.records import RunRecord

logger = logging.getLogger(__name__)

REDELIVERY_SECONDS = 300.0
"""How long the API keeps handing Temporal a stop it could not deliver. A call the notice
stopped waits for it (turn_session.STOP_CANCEL_WAIT, on Temporal's clock), then adopts the
stop from the run's record; past five minutes a client retrying the stop is the better
judge."""
REDELIVERY_FIRST_PAUSE = 0.2
REDELIVERY_MAX_PAUSE = 5.0

OwnedRun = Callable[[str, str, str], Awaitable[RunRecord]]


class RunStops:
    def __init__(
        self,
        records: RecordStore,
        gateway: TemporalGateway,
        notices: StopNotices,
        waiter: RunWaiter,
        owned_run: OwnedRun,
    ) -> None:
        self._records = records
        self._gateway = gateway
        self._notices = notices
        self._waiter = waiter
        self._owned_run = owned_run
        self._background: set[asyncio.Task[None]] = set()

    async def cancel(
        self, thread_id: str, run_id: str, stop: StopRequest, *, wait: bool
    ) -> RunRecord:
        claimed = await self._records.claim_first_stop(thread_id, run_id, stop.actor, asdict(stop))
        if claimed is not None:  # the usual Stop: one statement before Temporal hears it
            run = await self._deliver_recorded(claimed, stop, stop)
        else:
            run = await self._stop(await self._owned_run(thread_id, run_id, stop.actor), stop)
        return await self._waiter.wait_end(run, past_pause=True) if wait else run

    async def cancel_many(self, body: BulkCancel, stop: StopRequest) -> list[str]:
        """Stop every matching active run of the caller's threads; runs that already ended
        are skipped, not errors."""
        if not (body.thread_id or body.run_ids or body.status):
            raise InvalidInputError("Give thread_id and/or run_ids, or a status filter")
        wanted = {"pending", "running"} if body.status in (None, "all") else {body.status}
        stopped: list[str] = []
        for run in await self._records.active_runs(body.thread_id, owner=stop.actor):
            if body.run_ids and run.run_id not in body.run_ids or run.status not in wanted:
                continue
            try:
                await self._stop(run, stop)
            except ConflictError:
                continue
            stopped.append(run.run_id)
        return stopped

    def stop_in_background(self, run: RunRecord, stop: StopRequest) -> None:
        """For a client that went away (on_disconnect=cancel): only the log hears failures."""
        self._in_background(self._stop_quietly(run, stop))

    async def _stop_quietly(self, run: RunRecord, stop: StopRequest) -> None:
        try:
            await self._stop(run, stop)
        except (ConflictError, TemporalUnavailableError):
            pass  # ended meanwhile, or handed to the redelivery
        except Exception as exc:
            logger.warning("could not stop run %s after disconnect: %s", run.run_id, exc)

    async def _stop(self, run: RunRecord, stop: StopRequest) -> RunRecord:
        if not await self._stoppable(run):
            raise ConflictError(ended_detail(run))
        standing = StopRequest(**await self._records.request_stop(run, asdict(stop)))
        return await self._deliver_recorded(run, stop, standing)

    async def _stoppable(self, run: RunRecord) -> bool:
        return run.active or await self._awaits_decision(run)

    async def _awaits_decision(self, run: RunRecord) -> bool:
        """A run that paused for approval has ended, but its turn still waits for the answer
        as long as no later run (the resume, or new words) took over: Stop ends that wait,
        `interrupt` answering the pending call, `rollback` undoing the turn."""
        if not run.paused:
            return False
        latest = await self._records.list_runs(run.thread_id, limit=1)
        return bool(latest) and latest[0].run_id == run.run_id

    async def _deliver_recorded(
        self, run: RunRecord, stop: StopRequest, standing: StopRequest
    ) -> RunRecord:
        """Hand the stop recorded as `standing` to Temporal and the running call."""
        if standing.action != stop.action:
            raise ConflictError(
                f"Run {run.run_id} is already being stopped with action '{standing.action}' "
                f"(by {standing.actor}); a run is stopped once, so '{stop.action}' cannot "
                "apply. Wait for it to end, then start a new run."
            )
        try:
            return await self._deliver(run, standing)
        except TemporalUnavailableError as exc:
            self._in_background(self._redeliver(run, standing))
            raise TemporalUnavailableError(
                f"{exc}. The stop is recorded and will be handed to Temporal when it is "
                "back; repeating it is safe."
            ) from exc

    async def _deliver(self, run: RunRecord, standing: StopRequest) -> RunRecord:
        # The same stop again is idempotent: Temporal keeps the first cancel, and a notice
        # to a call that already stopped is ignored.
        notice = asyncio.ensure_future(self._notices.announce([run.run_id], standing))
        try:
            running = await self._gateway.cancel_turn(
                run.thread_id, run.run_id, standing, run.workflow_id
            )
        finally:
            await notice  # never raises: a lost notice costs speed, not the stop
        if running:
            await self._gateway.stop_requested(run.thread_id, run.run_id, standing)
            # Fresh: the answer shows the stop that stands (cancel_reason), or the end.
            return await self._records.get_run(run.thread_id, run.run_id) or run
        fate = await self._gateway.cancel_pending(run.thread_id, run.run_id, standing)
        if fate == "running":  # it started between the two calls; the stop is recorded
            return await self._deliver(run, standing)
        fresh = await self._records.get_run(run.thread_id, run.run_id) or run
        if fate == "ended" and fresh.status not in ("pending", "running"):
            raise ConflictError(ended_detail(fresh))
        return fresh

    async def _redeliver(self, run: RunRecord, standing: StopRequest) -> None:
        """Keep handing Temporal a stop it could not take, until it does or the run ends."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + REDELIVERY_SECONDS
        pause = REDELIVERY_FIRST_PAUSE
        while loop.time() < give_up:
            await asyncio.sleep(pause)  # a retry's backoff, not a synchronisation
            pause = min(pause * 2, REDELIVERY_MAX_PAUSE)
            fresh = await self._records.get_run(run.thread_id, run.run_id)
            if fresh is None or not await self._stoppable(fresh):
                return
            try:
                await self._deliver(fresh, standing)
            except TemporalUnavailableError:
                continue
            except ConflictError:
                return
            logger.info("stop of run %s handed to Temporal after it came back", run.run_id)
            return
        logger.warning("stop of run %s never reached Temporal; gave up", run.run_id)

    async def aclose(self) -> None:
        """At shutdown: a stop still being handed over is the client's to repeat."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def ended_detail(run: RunRecord) -> str:
    return f"Run {run.run_id} already ended with status '{run.status}'; there is nothing to stop."
