"""An update whose deadline passes (Temporal overloaded) is a 503 to retry, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from api.errors import TemporalUnavailableError
from api.temporal_gateway import TemporalGateway
from core.contracts import StopRequest, TurnInput
from core.settings import Settings
from core.thread_contracts import RunRequest


class _SlowHandle:
    async def execute_update(self, *args: Any, **kwargs: Any) -> Any:
        raise WorkflowUpdateRPCTimeoutOrCancelledError()


class _SlowTemporal:
    """A client whose every update outlives its deadline, as the SDK reports it."""

    async def execute_update_with_start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        raise WorkflowUpdateRPCTimeoutOrCancelledError()

    def get_workflow_handle(self, workflow_id: str) -> _SlowHandle:
        return _SlowHandle()


def _gateway() -> TemporalGateway:
    return TemporalGateway(Settings(), client=_SlowTemporal())  # type: ignore[arg-type]


async def test_an_admission_past_its_deadline_is_temporal_unavailable() -> None:
    turn = TurnInput(
        thread_id="t-1", run_id="run-1", assistant_id="agent", graph_id="agents.react:agent",
        user_id="alice", input_messages=[], model_name="scripted",
    )  # fmt: skip
    request = RunRequest(run_id="run-1", turn=turn)

    with pytest.raises(TemporalUnavailableError, match="did not answer in time to admit run run-1"):
        await _gateway().submit_run(request, owner="alice")


async def test_a_thread_update_past_its_deadline_is_temporal_unavailable() -> None:
    stop = StopRequest(actor="alice", reason="test")

    with pytest.raises(TemporalUnavailableError, match="cancel_pending on thread t-1"):
        await _gateway().cancel_pending("t-1", "run-1", stop)
