"""Runs on a thread: create, read, wait for, stop and delete them, holding no state.

Admission (one active run per thread, the queue, the four multitask strategies) is decided
by the thread workflow in Temporal; the API only asks, then writes the run's row for
listing. Stops are api.run_stops.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from api.assistants import AssistantCatalog, check_breakpoints
from api.errors import ConflictError, NotFoundError
from api.message_ids import chosen_ids, refuse_taken_ids
from api.resume import check_resume
from api.run_input import (
    GRAPH_STREAM_MODES,
    ends_the_turn,
    idempotent_run_id,
    new_run_record,
    preview_text,
)
from api.run_stops import RunStops
from api.run_waiter import RunWaiter
from api.schemas import RunCreate
from api.stop_notices import StopNotices
from api.temporal_gateway import TemporalGateway
from core.contracts import END_TURN, StopAction, StopRequest, TurnInput, TurnLimits
from core.settings import Settings
from core.thread_contracts import RunRequest
from stores.record_store import RecordStore
from stores.records import RunRecord, ThreadRecord
from stores.thread_store import ThreadStore

SUMMARY_CHARS = 80


class RunsService:
    def __init__(
        self,
        settings: Settings,
        records: RecordStore,
        gateway: TemporalGateway,
        notices: StopNotices,
        assistants: AssistantCatalog,
        thread_store: ThreadStore,
    ) -> None:
        self._settings = settings
        self._thread_store = thread_store
        self.records = records
        self._records = records
        self._gateway = gateway
        self._notices = notices
        self._assistants = assistants
        self.waiter = RunWaiter(records, notices.broker, settings.limits.max_wait_seconds)
        self.stops = RunStops(records, gateway, notices, self.waiter, self.get)

    # --- create ---------------------------------------------------------------------------

    async def create(
        self,
        thread_id: str,
        body: RunCreate,
        caller: str,
        *,
        streaming: bool,
        idempotency_key: str | None = None,
        temporary_thread: bool = False,
    ) -> RunRecord:
        """Validate, have the thread workflow admit the run, then record it for listing.
        `temporary_thread`: the thread was made for this run alone, and goes after it."""
        if body.if_not_exists == "create":
            await self._create_thread_if_missing(thread_id, caller)
        thread = await self._require_thread(thread_id, caller)
        graph_ref = self._assistants.graph_ref(body.assistant_id)
        check_breakpoints(graph_ref, body.interrupt_before, body.interrupt_after)
        run = new_run_record(
            thread_id,
            body,
            caller,
            streaming=streaming,
            limits=self._settings.limits,
            run_id=idempotent_run_id(caller, thread_id, idempotency_key),
        )
        if idempotency_key:  # the same key again is the same run (a fresh id is never taken)
            existing = await self._records.get_run(thread_id, run.run_id)
            if existing is not None:
                return existing
        await refuse_taken_ids(self._thread_store, thread_id, chosen_ids(body.input))
        request = run_request(self._settings, run, graph_ref, temporary_thread=temporary_thread)
        if request.resume:
            check_resume(thread, request.resume_value, body.command is not None)
        await self._notices.run_started(run.run_id)
        admission = await self._gateway.submit_run(request, caller)
        run = replace(run, workflow_id=admission.workflow_id or run.workflow_id)
        # Like the Agent Server: a thread names the graph and assistant it runs (chat UIs
        # list a graph's threads by it), from the moment a run is created.
        tags = {"graph_id": run.assistant_id, "assistant_id": run.assistant_id}
        inserted = await self._records.insert_run(run, thread_metadata=tags)
        if admission.superseded:
            await self._notices.announce(admission.superseded, _superseding(run))
        if inserted:  # as written; else the turn wrote it first, maybe further along
            return run
        return await self._records.get_run(thread_id, run.run_id) or run

    # --- read -----------------------------------------------------------------------------

    async def get(self, thread_id: str, run_id: str, owner: str) -> RunRecord:
        """The run, if it belongs to one of the owner's threads; 404 otherwise."""
        run = await self._records.get_owned_run(thread_id, run_id, owner)
        if run is None:
            await self._require_thread(thread_id, owner)  # which of the two is missing
            raise NotFoundError(f"Run {run_id} not found in thread {thread_id}")
        return run

    async def list_runs(
        self, thread_id: str, owner: str, *, limit: int, offset: int, status: str | None
    ) -> list[RunRecord]:
        await self._require_thread(thread_id, owner)
        return await self._records.list_runs(thread_id, limit, offset, status)

    async def join(self, thread_id: str, run_id: str, owner: str) -> RunRecord:
        return await self.waiter.wait_end(await self.get(thread_id, run_id, owner))

    async def delete(self, thread_id: str, run_id: str, owner: str) -> None:
        run = await self.get(thread_id, run_id, owner)
        if run.active:
            raise ConflictError(f"Run {run_id} is still {run.status}; cancel it before deleting it")
        await self._records.delete_run(thread_id, run_id)

    async def _require_thread(self, thread_id: str, owner: str) -> ThreadRecord:
        thread = await self._records.get_thread(thread_id, owner)
        if thread is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return thread

    async def _create_thread_if_missing(self, thread_id: str, owner: str) -> None:
        """`if_not_exists: "create"`: the caller's new thread; another user's id stays theirs."""
        if await self._records.get_thread(thread_id, owner) is not None:
            return
        created = await self._records.create_thread(thread_id, owner, {})
        if not created and await self._records.get_thread(thread_id, owner) is None:
            raise ConflictError(f"Thread id {thread_id} is not available; choose another id")


def run_request(
    settings: Settings, run: RunRecord, graph_ref: str, *, temporary_thread: bool = False
) -> RunRequest:
    """What the thread workflow is asked to admit: the run and the turn it becomes."""
    kwargs = run.kwargs
    command = kwargs.get("command")
    modes = kwargs.get("stream_mode") or []
    turn = TurnInput(
        thread_id=run.thread_id,
        run_id=run.run_id,
        assistant_id=run.assistant_id,
        graph_id=graph_ref,
        user_id=run.user_id,
        input_messages=run.input_messages,
        model_name=settings.model_name,
        heartbeat_timeout_seconds=settings.heartbeat.timeout_seconds,
        model_max_attempts=settings.model.max_attempts,
        config=_graph_config(kwargs.get("config") or {}),
        record=run.as_dict(),
        checkpoint_id=kwargs.get("checkpoint_id"),
        interrupt_before=_nodes(kwargs.get("interrupt_before")),
        interrupt_after=_nodes(kwargs.get("interrupt_after")),
        limits=TurnLimits(deadline_seconds=settings.limits.turn_deadline_seconds),
        stream_modes=[mode for mode in modes if mode in GRAPH_STREAM_MODES],
    )
    return RunRequest(
        run_id=run.run_id,
        turn=turn,
        multitask_strategy=run.multitask_strategy,  # type: ignore[arg-type]
        summary=preview_text(run.input_messages, SUMMARY_CHARS) or "resume",
        resume=command is not None or not run.input_messages,
        resume_value=_resume_value(command or {}),
        forget_thread_after_seconds=(
            settings.limits.temporary_thread_seconds if temporary_thread else None
        ),
    )


def _resume_value(command: dict[str, Any]) -> Any:
    """What the paused turn receives: the decisions, or END_TURN for a goto to the end."""
    if command.get("resume") is None and ends_the_turn(command.get("goto")):
        return END_TURN
    return command.get("resume")


def _nodes(value: Any) -> list[str]:
    if value == "*":
        return ["*"]
    return list(value or [])


def _superseding(run: RunRecord) -> StopRequest:
    strategy = run.multitask_strategy
    action: StopAction = "rollback" if strategy == "rollback" else "interrupt"
    reason = f"superseded by a new run (multitask_strategy={strategy})"
    return StopRequest(action=action, actor=run.user_id, reason=reason)


def _graph_config(config: dict[str, object]) -> dict[str, object]:
    """The parts of a run's config the graph may read (LangGraph's own keys)."""
    keys = ("configurable", "recursion_limit", "tags", "metadata")
    return {key: config[key] for key in keys if key in config}
