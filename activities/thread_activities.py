"""The thread workflow's activities: end a run that has no turn to end it, terminate a turn
that ignored its stop, delete a stateless run's own thread once the run is over."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.live import RunLive
from broker import Broker
from core.thread_contracts import ForgetThread, RunEnd, TerminateTurn
from stores.forget import forget_thread
from stores.record_store import RecordStore
from stores.records import RunRecord
from stores.thread_store import ThreadStore


class ThreadActivities:
    def __init__(
        self, records: RecordStore, threads: ThreadStore, broker: Broker, client: Client
    ) -> None:
        self._records = records
        self._threads = threads
        self._broker = broker
        self._client = client

    @activity.defn(name="end_run")
    async def end_run(self, end: RunEnd) -> None:
        """Record the end, then tell the run's stream (its clients are waiting for `end`)."""
        if end.record:
            await self._records.finish_run(RunRecord.from_dict(end.record), end.status, end.outcome)
        live = RunLive(self._broker, end.run_id)
        await live.end(end.outcome)

    @activity.defn(name="terminate_turn")
    async def terminate_turn(self, inp: TerminateTurn) -> None:
        handle = self._client.get_workflow_handle(inp.workflow_id)
        try:
            await handle.terminate(reason=inp.reason)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # already closed: nothing to do
                raise

    @activity.defn(name="forget_thread")
    async def forget_thread(self, inp: ForgetThread) -> None:
        await forget_thread(self._records, self._threads, self._broker, inp.thread_id, inp.owner)
