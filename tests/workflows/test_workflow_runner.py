"""The turn's workflow runner: the sandbox without its serialization-context round trips
(worker/context_free_sandbox.py). It must still run workflows and still be a sandbox."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowFailureError
from temporalio.converter import PayloadCodec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from core.payloads import DATA_CONVERTER
from core.settings import Settings
from tests.fixtures.sandbox_probe import CallsAnActivity, ReadsTheWallClock, echo
from worker.assembly import workflow_runner
from worker.context_free_sandbox import ContextFreeSandboxRunner


class _Identity(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def test_the_turn_runs_in_the_context_free_sandbox_unless_contexts_matter(
    settings: Settings,
) -> None:
    with_codec = dataclasses.replace(DATA_CONVERTER, payload_codec=_Identity())
    unsandboxed = settings.model_copy(
        update={"worker": settings.worker.model_copy(update={"sandbox": False})}
    )

    assert isinstance(workflow_runner(settings, DATA_CONVERTER), ContextFreeSandboxRunner)
    assert type(workflow_runner(settings, with_codec)) is SandboxedWorkflowRunner
    assert isinstance(workflow_runner(unsandboxed, DATA_CONVERTER), UnsandboxedWorkflowRunner)


async def _run(
    env: WorkflowEnvironment, settings: Settings, workflow: str, *args: object
) -> object:
    queue = f"runner-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[CallsAnActivity, ReadsTheWallClock],
        activities=[echo],
        workflow_runner=workflow_runner(settings, DATA_CONVERTER),
    ):
        return await env.client.execute_workflow(
            workflow,
            args=list(args),
            id=f"runner-{uuid.uuid4()}",
            task_queue=queue,
        )


async def test_payloads_cross_the_context_free_sandbox_both_ways(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    result = await _run(workflow_env, settings, "CallsAnActivity", "héllo")

    assert result == "echo: héllo"


async def test_the_context_free_sandbox_still_refuses_non_deterministic_calls(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await _run(workflow_env, settings, "ReadsTheWallClock")

    assert "Cannot access datetime.datetime.now" in str(failure.value.cause)
