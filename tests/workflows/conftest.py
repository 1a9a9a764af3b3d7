from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.scripted_model.runner import RunningScriptedModel
from tests.support import TurnRig, running_rig


@pytest.fixture
async def rig(
    workflow_env: WorkflowEnvironment, settings: Settings, scripted_model: RunningScriptedModel
) -> AsyncIterator[TurnRig]:
    async with running_rig(workflow_env.client, settings, scripted_model, workflow_env) as running:
        yield running
