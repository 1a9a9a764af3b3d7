"""The API tests' app: real stores and broker, a fake Temporal (tests/unit/api_harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures.nats import NatsServer
from tests.unit.api_harness import Api, running_api


@pytest.fixture
async def api(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[Api]:
    async with running_api(tmp_path, nats_server.url) as running:
        yield running
