"""Everything the API asks Temporal, and what Temporal's answers mean for a run.

The API decides nothing itself: it asks the thread workflow to admit a run
(update-with-start), cancels a running turn directly (the fastest way to record a Stop), and
asks the thread workflow to drop a run that has not started. Every call has a short RPC
deadline: with Temporal down, a client gets 503 with Retry-After in seconds, not a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ConflictError, NotFoundError, TemporalRequestError, TemporalUnavailableError
from core.contracts import (
    SA_THREAD_ID,
    SA_USER_ID,
    THREAD_WORKFLOW,
    StopRequest,
    thread_workflow_id,
    turn_workflow_id,
)
from core.settings import Settings
from core.temporal import connect
from core.thread_contracts import (
    NOTHING_TO_RESUME,
    THREAD_BUSY,
    THREAD_CLOSED,
    RunAdmission,
    RunRequest,
    RunStop,
    ThreadState,
)

logger = logging.getLogger(__name__)

RPC_TIMEOUT = timedelta(seconds=5)
CONNECT_TIMEOUT_SECONDS = 3.0
_UNREACHABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}
_CLOSED = {
    WorkflowExecutionStatus.FAILED: "the turn workflow failed",
    WorkflowExecutionStatus.TERMINATED: "the turn workflow was terminated",
    WorkflowExecutionStatus.CANCELED: "the turn workflow was cancelled",
    WorkflowExecutionStatus.TIMED_OUT: "the turn workflow timed out",
}


class TemporalGateway:
    """The API's Temporal client, connected lazily so the API starts while Temporal is down."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._connecting = asyncio.Lock()

    async def connect_quietly(self) -> None:
        """Connect at start-up if possible; a failure is retried on the first request."""
        if self._client is not None:
            return
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
                    async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                        self._client = await connect(self._settings)
                except (RuntimeError, OSError, RPCError, TimeoutError) as exc:
                    raise TemporalUnavailableError(self._unreachable(exc)) from exc
        return self._client

    def _unreachable(self, exc: BaseException) -> str:
        return f"Temporal is unreachable at {self._settings.temporal.address}: {exc or 'timeout'}"

    @contextlib.contextmanager
    def _rpc(self, what: str) -> Iterator[None]:
        try:
            yield
        except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
            # An overloaded Temporal (measured: 80 streams on two cores) lets an update's
            # deadline pass. Like an unreachable one, that is a 503 to retry, not a 500.
            raise TemporalUnavailableError(
                f"Temporal did not answer in time to {what} (overloaded or unreachable); "
                "the request may still take effect"
            ) from exc
        except RPCError as exc:
            if exc.status in _UNREACHABLE:
                raise TemporalUnavailableError(self._unreachable(exc)) from exc
            raise TemporalRequestError(f"Temporal refused to {what}: {exc.message}") from exc

    async def submit_run(self, request: RunRequest, owner: str) -> RunAdmission:
        """Admit a run through the thread workflow, starting it if the thread has none."""
        client = await self.client()
        thread_id = request.turn.thread_id
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            THREAD_WORKFLOW,
            ThreadState(
                thread_id=thread_id,
                owner=owner,
                stop_grace_seconds=self._settings.limits.stop_grace_seconds,
                turn_check_seconds=self._settings.limits.turn_check_seconds,
            ),
            id=thread_workflow_id(thread_id),
            task_queue=self._settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=_thread_attributes(thread_id, owner),
            static_summary=f"thread {thread_id} of {owner}",
        )
        with self._rpc(f"admit run {request.run_id}"):
            try:
                admission: RunAdmission = await client.execute_update_with_start_workflow(
                    "submit_run",
                    request,
                    start_workflow_operation=start,
                    id=request.run_id,  # a retried request is the same update
                    result_type=RunAdmission,
                    rpc_timeout=RPC_TIMEOUT,
                )
            except WorkflowUpdateFailedError as exc:
                raise _refusal(exc) from exc
        return admission

    async def cancel_turn(
        self, thread_id: str, run_id: str, stop: StopRequest, workflow_id: str = ""
    ) -> bool:
        """Cancel the run's turn with the stop as reason; False if it has no open turn.
        `workflow_id`: the turn serving the run, when not its own (a resumed run)."""
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id or turn_workflow_id(thread_id, run_id))
        with self._rpc(f"cancel run {run_id}"):
            try:
                await handle.cancel(reason=stop.to_cancel_reason(), rpc_timeout=RPC_TIMEOUT)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return False
                raise
        return True

    async def cancel_pending(self, thread_id: str, run_id: str, stop: StopRequest) -> str:
        """ "dropped", "running", "ended" or "unknown" (see ThreadWorkflow.cancel_pending)."""
        return str(
            await self._thread_update(
                thread_id, "cancel_pending", RunStop(run_id=run_id, stop=stop)
            )
            or "unknown"
        )

    async def stop_requested(self, thread_id: str, run_id: str, stop: StopRequest) -> None:
        """Tell the thread to escalate if the turn ignores the stop; best effort."""
        client = await self.client()
        handle = client.get_workflow_handle(thread_workflow_id(thread_id))
        try:
            await handle.signal(
                "stop_requested", RunStop(run_id=run_id, stop=stop), rpc_timeout=RPC_TIMEOUT
            )
        except RPCError as exc:
            logger.warning("thread %s not told of the stop of %s: %s", thread_id, run_id, exc)

    async def close_thread(self, thread_id: str, stop: StopRequest) -> None:
        """Stop what runs on the thread and end its workflow (the thread is deleted). Waits
        for the active turn to end, which a turn ignoring its stop does within the grace
        period (then it is terminated): bounded, never forever."""
        bound = timedelta(seconds=self._settings.limits.stop_grace_seconds + 30)
        await self._thread_update(thread_id, "close", stop, rpc_timeout=bound)

    async def _thread_update(
        self, thread_id: str, update: str, arg: Any, *, rpc_timeout: timedelta | None = RPC_TIMEOUT
    ) -> Any:
        client = await self.client()
        handle = client.get_workflow_handle(thread_workflow_id(thread_id))
        with self._rpc(f"{update} on thread {thread_id}"):
            try:
                return await handle.execute_update(update, arg, rpc_timeout=rpc_timeout)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return None  # no workflow: nothing pending, nothing running
                raise
            except WorkflowUpdateFailedError as exc:
                raise _refusal(exc) from exc

    async def closed_turn(self, thread_id: str, run_id: str) -> str | None:
        """Why the run's turn workflow closed without recording its end, if it did."""
        client = await self.client()
        handle = client.get_workflow_handle(turn_workflow_id(thread_id, run_id))
        with self._rpc(f"describe run {run_id}"):
            try:
                description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise
        return _CLOSED.get(description.status) if description.status else None


def _thread_attributes(thread_id: str, owner: str) -> TypedSearchAttributes:
    keyword = SearchAttributeKey.for_keyword
    return TypedSearchAttributes(
        [
            SearchAttributePair(keyword(SA_THREAD_ID), thread_id),
            SearchAttributePair(keyword(SA_USER_ID), owner),
        ]
    )


def _refusal(exc: WorkflowUpdateFailedError) -> Exception:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type == THREAD_BUSY:
        return ConflictError(cause.message)
    if isinstance(cause, ApplicationError) and cause.type == THREAD_CLOSED:
        return NotFoundError("The thread is being deleted")
    if isinstance(cause, ApplicationError) and cause.type == NOTHING_TO_RESUME:
        return ConflictError(cause.message)
    return TemporalRequestError(f"The thread refused the request: {cause}")
