"""How the turn schedules its activities: timeouts, retries, cancellation, and the metadata
its streamed messages carry.

Every call states its start-to-close and heartbeat timeouts and a retry policy. Heartbeats
are liveness only (a dead worker is noticed within the heartbeat timeout): a Stop reaches a
running call through the broker's stop notice, and through Temporal's cancel as the fallback.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from langgraph.config import get_config

    from activities.model import ModelActivities
    from activities.tools import ToolActivities
    from activities.turn_activities import TurnActivities
    from core.contracts import (
        CompensationInput,
        ModelCallInput,
        ModelCallResult,
        PartialAnswerInput,
        RecordedStopInput,
        StopRequest,
        ToolCallInput,
        ToolCallResult,
        TurnInput,
    )
    from workflows.local_steps import LOCAL_RETRY, LOCAL_TIMEOUT

NODE_METADATA = (
    "langgraph_step",
    "langgraph_node",
    "langgraph_triggers",
    "langgraph_path",
    "langgraph_checkpoint_ns",
    "checkpoint_ns",
)


def _streaming_call(summary: str, attempts: int, inp: TurnInput) -> dict[str, Any]:
    return {
        "start_to_close_timeout": timedelta(minutes=10),
        "heartbeat_timeout": timedelta(seconds=inp.heartbeat_timeout_seconds),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(milliseconds=500),
            maximum_interval=timedelta(seconds=5),
            maximum_attempts=attempts,
            non_retryable_error_types=["ModelRequestRejected"],
        ),
        # The run reports stopped only after the call really closed its stream.
        "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        "summary": summary,
    }


def model_activity(call: ModelCallInput, inp: TurnInput) -> asyncio.Task[ModelCallResult]:
    return workflow.start_activity_method(
        ModelActivities.call_model,
        call,
        **_streaming_call(f"model {call.model_name}", inp.model_max_attempts, inp),
    )


def tool_activity(call: ToolCallInput, inp: TurnInput) -> asyncio.Task[ToolCallResult]:
    return workflow.start_activity_method(
        ToolActivities.run_tool,
        call,
        **_streaming_call(f"tool {call.name}", inp.tool_max_attempts, inp),
    )


async def partial_activity(inp: PartialAnswerInput) -> str:
    return await workflow.execute_activity_method(
        TurnActivities.recover_partial_answer,
        inp,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RetryPolicy(maximum_attempts=3),
        summary="recover the partial answer from the live stream",
    )


def recorded_stop_activity(inp: RecordedStopInput) -> asyncio.Task[StopRequest | None]:
    """Local: it only reads the run's record, so running it twice is harmless."""
    return workflow.start_local_activity_method(
        TurnActivities.recorded_stop,
        inp,
        start_to_close_timeout=LOCAL_TIMEOUT,
        retry_policy=LOCAL_RETRY,
        summary="read the stop recorded in the run's record",
    )


async def compensate_activity(comp: CompensationInput) -> str:
    return await workflow.execute_activity_method(
        ToolActivities.compensate_tool,
        comp,
        start_to_close_timeout=timedelta(minutes=2),
        heartbeat_timeout=timedelta(seconds=30),
        retry_policy=RetryPolicy(
            initial_interval=timedelta(milliseconds=200),
            maximum_interval=timedelta(seconds=5),
            maximum_attempts=5,
        ),
        summary=f"compensate {comp.tool_name}",
    )


def call_metadata(
    inp: TurnInput, run_id: str, node: str, *, model: str | None = None
) -> dict[str, Any]:
    """The Agent Server's `messages-tuple` metadata for one call's streamed messages."""
    metadata: dict[str, Any] = {
        "created_by": "system",
        "run_attempt": 1,
        "assistant_id": inp.assistant_id,
        "graph_id": inp.assistant_id,
        "run_id": run_id,
        "thread_id": inp.thread_id,
        "user_id": inp.user_id,
        "langgraph_node": node,
    }
    try:
        node_metadata = get_config().get("metadata") or {}
    except RuntimeError:  # called outside a graph node
        node_metadata = {}
    metadata.update({key: node_metadata[key] for key in NODE_METADATA if key in node_metadata})
    if model is not None:
        metadata.update(
            ls_provider="openai", ls_model_name=model, ls_model_type="chat", ls_temperature=None
        )
    return metadata
