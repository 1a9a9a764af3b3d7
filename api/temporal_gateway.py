"""Everything the API asks Temporal, and what Temporal's answers mean for a run.

The API keeps no run state of its own beyond a cache: a started run's status is whatever its
turn workflow says. RPC failures become domain errors here (502 in the API) so a client is
told "Temporal is unreachable" instead of seeing a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.workflow_streams import WorkflowStreamClient, WorkflowStreamItem
from temporalio.service import RPCError, RPCStatusCode

from api.errors import TemporalRequestError, TemporalUnavailableError
from core.contracts import (
    EVENTS_TOPIC,
    SA_THREAD_ID,
    SA_TURN_STATUS,
    SA_USER_ID,
    TURN_WORKFLOW,
    RunStatus,
    StopRequest,
    TurnEvent,
    TurnInput,
    TurnOutcome,
    turn_workflow_id,
)
from core.settings import Settings
from core.temporal import connect

logger = logging.getLogger(__name__)

_UNREACHABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}
_CLOSED_STATUS: dict[WorkflowExecutionStatus, tuple[RunStatus, str]] = {
    WorkflowExecutionStatus.FAILED: ("error", "the turn workflow failed"),
    WorkflowExecutionStatus.TERMINATED: ("error", "the turn workflow was terminated"),
    WorkflowExecutionStatus.CANCELED: ("interrupted", "the turn workflow was cancelled"),
    WorkflowExecutionStatus.TIMED_OUT: ("timeout", "the turn workflow timed out"),
}


class TemporalGateway:
    """The API's Temporal client, connected lazily so the API starts while Temporal is down."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._connecting = asyncio.Lock()

    async def connect_quietly(self) -> None:
        """Connect at start-up if possible; a failure is retried on the first request."""
        try:
            await self.client()
        except TemporalUnavailableError as exc:
            logger.warning("%s; will retry on the first request that needs Temporal", exc)

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._connecting:
            if self._client is None:
                try:
                    self._client = await connect(self._settings)
                except (RuntimeError, OSError, RPCError) as exc:
                    raise TemporalUnavailableError(self._unreachable(exc)) from exc
        return self._client

    def _unreachable(self, exc: BaseException) -> str:
        return f"Temporal is unreachable at {self._settings.temporal.address}: {exc}"

    @contextlib.contextmanager
    def _rpc(self, what: str) -> Iterator[None]:
        try:
            yield
        except RPCError as exc:
            if exc.status in _UNREACHABLE:
                raise TemporalUnavailableError(self._unreachable(exc)) from exc
            raise TemporalRequestError(f"Temporal refused to {what}: {exc.message}") from exc

    async def start_turn(self, turn: TurnInput, *, preview: str, summary: str) -> None:
        client = await self.client()
        with self._rpc(f"start run {turn.run_id}"):
            await client.start_workflow(
                TURN_WORKFLOW,
                turn,
                id=turn_workflow_id(turn.thread_id, turn.run_id),
                task_queue=self._settings.temporal.task_queue,
                search_attributes=_search_attributes(turn),
                memo={"preview": preview, "assistant_id": turn.assistant_id},
                static_summary=summary,
            )

    async def _handle(self, thread_id: str, run_id: str) -> Any:
        client = await self.client()
        return client.get_workflow_handle(
            turn_workflow_id(thread_id, run_id), result_type=TurnOutcome
        )

    async def resolve(self, thread_id: str, run_id: str) -> tuple[RunStatus, TurnOutcome | None]:
        """A started run's status; an outcome comes with every terminal status."""
        handle = await self._handle(thread_id, run_id)
        with self._rpc(f"describe run {run_id}"):
            try:
                description = await handle.describe()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                # Started runs vanish only when history retention removed them.
                return "error", _failed("error", "Temporal has no record of this run")
            if description.status == WorkflowExecutionStatus.COMPLETED:
                return await self._completed(handle)
        if description.status in _CLOSED_STATUS:
            status, text = _CLOSED_STATUS[description.status]
            return status, await self._failure(handle, status, text)
        return "running", None

    async def _completed(self, handle: Any) -> tuple[RunStatus, TurnOutcome | None]:
        try:
            outcome: TurnOutcome = await handle.result()
        except (TypeError, ValueError) as exc:
            logger.error("run %s returned an undecodable result: %s", handle.id, exc)
            return "error", _failed("error", f"the turn returned an unreadable result: {exc}")
        return outcome.status, outcome

    async def _failure(self, handle: Any, status: RunStatus, text: str) -> TurnOutcome:
        """The failure's own message, when Temporal has one, says more than the status."""
        try:
            await handle.result()
        except WorkflowFailureError as exc:
            cause = exc.cause
            text = f"{text}: {getattr(cause, 'message', None) or cause}"
        except Exception as exc:  # the status alone is still an answer
            logger.debug("no failure detail for %s: %s", handle.id, exc)
        return _failed(status, text)

    async def wait_closed(self, thread_id: str, run_id: str) -> None:
        """Block until the turn workflow has closed, however it closed."""
        handle = await self._handle(thread_id, run_id)
        with self._rpc(f"wait for run {run_id}"):
            try:
                await handle.result()
            except WorkflowFailureError:
                pass
            except (TypeError, ValueError):
                pass  # an unreadable result still means the workflow closed

    async def cancel(self, thread_id: str, run_id: str, stop: StopRequest) -> bool:
        """Request cancellation; False if the workflow had already closed."""
        handle = await self._handle(thread_id, run_id)
        with self._rpc(f"cancel run {run_id}"):
            try:
                await handle.cancel(reason=stop.to_cancel_reason())
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return False
                raise
        return True

    async def subscribe(
        self, thread_id: str, run_id: str, from_offset: int
    ) -> AsyncIterator[WorkflowStreamItem[TurnEvent]]:
        client = await self.client()
        stream = WorkflowStreamClient.create(client, turn_workflow_id(thread_id, run_id))
        cooldown = timedelta(milliseconds=self._settings.streaming.poll_cooldown_ms)
        with self._rpc(f"stream run {run_id}"):
            async for item in stream.subscribe(
                [EVENTS_TOPIC],
                from_offset=from_offset,
                result_type=TurnEvent,
                poll_cooldown=cooldown,
            ):
                yield item


def _search_attributes(turn: TurnInput) -> TypedSearchAttributes:
    """What the Web UI and `temporal workflow list --query` filter turns by."""
    keyword = SearchAttributeKey.for_keyword
    return TypedSearchAttributes(
        [
            SearchAttributePair(keyword(SA_THREAD_ID), turn.thread_id),
            SearchAttributePair(keyword(SA_USER_ID), turn.user_id),
            SearchAttributePair(keyword(SA_TURN_STATUS), "running"),
        ]
    )


def _failed(status: RunStatus, text: str) -> TurnOutcome:
    if status == "interrupted":
        return TurnOutcome(status=status, turn_status="stopped", outcome="interrupted")
    return TurnOutcome(status=status, turn_status="error", outcome="error", error=text)
