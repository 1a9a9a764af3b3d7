"""The API tests' app: real stores and broker, a fake Temporal (tests/unit/api_harness.py);
the scripted model over real loopback HTTP, one per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from devstack.scripted_model import serve_in_background
from devstack.scripted_model.runner import RunningScriptedModel
from tests.fixtures.nats import NatsServer
from tests.unit.api_harness import Api, running_api


@pytest.fixture
async def api(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[Api]:
    async with running_api(tmp_path, nats_server.url) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def model() -> AsyncIterator[RunningScriptedModel]:
    # serve_in_background runs uvicorn.Server in a task and polls `server.started`.
    running = await serve_in_background("127.0.0.1", 0)
    yield running
    await running.stop()
