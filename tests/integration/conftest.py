from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.scripted_model.runner import RunningScriptedModel
from tests.support import TurnRig, running_rig


@pytest.fixture
async def dev_rig(
    dev_server: WorkflowEnvironment, settings: Settings, scripted_model: RunningScriptedModel
) -> AsyncIterator[TurnRig]:
    """A worker on the real dev server, where stop/completion races are real races."""
    async with running_rig(dev_server.client, settings, scripted_model) as running:
        yield running
