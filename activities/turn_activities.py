"""A turn's first and last activities, and what it recovers after a fault: a lost partial
answer, a stop whose cancel never reached Temporal.

They are the only writers of thread state and of a run's record (besides the API's first
row), and each is idempotent: a retry after a crash repeats nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import Any

import orjson
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.live import RunLive
from broker import Broker, BrokerUnavailable
from core.contracts import (
    BeginTurnInput,
    FinishInput,
    PartialAnswerInput,
    RecordedStopInput,
    StopRequest,
    ThreadContext,
    TurnInput,
)
from core.live import Live, decode
from core.thread_contracts import TurnEnded
from stores.record_store import RecordStore
from stores.records import RunRecord, outcome_to_dict
from stores.thread_store import ThreadStore

log = logging.getLogger(__name__)


def begin_input(turn: TurnInput) -> BeginTurnInput:
    return BeginTurnInput(
        thread_id=turn.thread_id,
        run_id=turn.run_id,
        input_ids=[str(m.get("id")) for m in turn.input_messages],
        context=turn.context,
        checkpoint_id=turn.checkpoint_id,
        record=turn.record,
    )


async def load_turn_context(
    records: RecordStore, threads: ThreadStore, inp: BeginTurnInput, workflow_id: str
) -> ThreadContext:
    """A turn begins: its run is marked running, and the thread's window is read (at the
    same time: each waits on its own store, and both are on the way to the first token)."""
    marked = asyncio.create_task(_mark_running(records, inp.record, workflow_id))
    try:
        window = await threads.load_window(
            inp.thread_id, inp.context, checkpoint_id=inp.checkpoint_id, input_ids=inp.input_ids
        )
    finally:
        await marked
    return ThreadContext(
        checkpoint_id=window.checkpoint_id,
        total=window.total,
        window=window.messages,
        taken_ids=window.taken_ids,
    )


async def _mark_running(records: RecordStore, record: dict[str, Any], workflow_id: str) -> None:
    if record:
        run = RunRecord.from_dict(record)
        await records.mark_running(replace(run, status="running", workflow_id=workflow_id))


class TurnActivities:
    def __init__(
        self, threads: ThreadStore, records: RecordStore, broker: Broker, client: Client
    ) -> None:
        self._threads = threads
        self._records = records
        self._broker = broker
        self._client = client

    @activity.defn(name="begin_turn")
    async def begin_turn(self, inp: BeginTurnInput) -> ThreadContext:
        workflow_id = activity.info().workflow_id or ""
        return await load_turn_context(self._records, self._threads, inp, workflow_id)

    @activity.defn(name="start_run")
    async def start_run(self, record: dict[str, Any]) -> None:
        """A paused turn goes on under a new run (a resume): that run is running now."""
        run = RunRecord.from_dict(record)
        workflow_id = activity.info().workflow_id or ""
        await self._records.mark_running(replace(run, status="running", workflow_id=workflow_id))

    @activity.defn(name="finish_turn")
    async def finish_turn(self, inp: FinishInput) -> str | None:
        """Commit, record, then tell: a client that sees `end` finds both already done, and
        one that sees the run's status finds the messages committed."""
        checkpoint_id = None
        if inp.commit is not None:
            checkpoint_id = await self._threads.commit(
                inp.thread_id, inp.commit, on_top_of=inp.checkpoint_id
            )
        await self._record_end(inp)
        live = RunLive(self._broker, inp.run_id)
        await live.outbox(inp.outbox)
        # The thread hears before the client does: a client that sends its next run the
        # moment it sees `end` finds the thread free.
        await self._tell_thread(inp)
        await live.end(inp.end)
        return checkpoint_id

    async def _tell_thread(self, inp: FinishInput) -> None:
        """The thread that follows the turn learns that the turn's run ended (a pause is
        not an end: the turn goes on when someone answers)."""
        if not inp.thread_workflow_id or inp.outcome.outcome == "paused":
            return
        handle = self._client.get_workflow_handle(inp.thread_workflow_id)
        try:
            await handle.signal("turn_ended", TurnEnded(run_id=inp.turn_run_id))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # a deleted thread waits for nobody
                raise

    async def _record_end(self, inp: FinishInput) -> None:
        if not inp.record:
            return
        run = RunRecord.from_dict(inp.record)
        # Like the Agent Server: a thread names the graph and assistant that last ran on it
        # (chat UIs list threads by graph_id), and shows what it waits for.
        await self._records.finish_run(
            run,
            inp.outcome.status,
            outcome_to_dict(inp.outcome),
            reopen=inp.reopen,
            thread_metadata={"graph_id": run.assistant_id, "assistant_id": run.assistant_id},
            interrupts=inp.interrupts,
        )

    @activity.defn(name="recorded_stop")
    async def recorded_stop(self, inp: RecordedStopInput) -> StopRequest | None:
        """The stop recorded in the run's record, if any (the API records it before it
        publishes the notice and sends the cancel)."""
        run = await self._records.get_run(inp.thread_id, inp.run_id)
        return StopRequest(**run.stop) if run is not None and run.stop else None

    @activity.defn(name="recover_partial_answer")
    async def recover_partial_answer(self, inp: PartialAnswerInput) -> str:
        """What the client saw of a model call whose worker died mid-stream: its tokens on
        the live stream since the call's last reset."""
        try:
            last = await self._broker.last_seq(inp.run_id)
        except BrokerUnavailable as exc:
            log.warning("cannot recover the partial answer of %s: %s", inp.message_id, exc)
            return ""
        texts: list[str] = []
        if last is None:
            return ""
        events = self._broker.subscribe(inp.run_id)
        async with contextlib.aclosing(events):
            async for event in events:
                _apply(texts, event.data, inp.message_id)
                if event.seq >= last:
                    break
        return "".join(texts)


def _apply(texts: list[str], payload: bytes, message_id: str) -> None:
    kind, body = decode(payload)
    if kind == Live.RESET:
        if orjson.loads(body).get("message_id") == message_id:
            texts.clear()
    elif kind == Live.MESSAGES:
        chunk: dict[str, Any] = orjson.loads(body)[0]
        if chunk.get("id") == message_id and isinstance(chunk.get("content"), str):
            texts.append(chunk["content"])
