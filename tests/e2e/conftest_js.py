"""The live API the LangGraph JS client tests talk to, and node to run them.

`live_api` is chatstop's in-process stack by default. With `--against-agent-server` it is
LangGraph's own Agent Server (`langgraph dev`) on the same scripted model instead, which is
how these tests are proved right: every one must pass there. The tests that use it are marked
`agent_protocol`:

    pytest -m agent_protocol --against-agent-server

Registered from tests/conftest.py through `pytest_plugins`.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import pytest

from tests.e2e.agent_server import (
    GRAPH_ID,
    AgentServer,
    anchor_venv,
    ensure_anchor_venv,
    start_agent_server,
)
from tests.e2e.js_support import SDK_PACKAGE

AGAINST_AGENT_SERVER = "--against-agent-server"
CHATSTOP_ASSISTANT = "agent"


class LiveApi(NamedTuple):
    api_url: str
    assistant_id: str
    api_key: str | None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        AGAINST_AGENT_SERVER,
        action="store_true",
        help="run the JS client and browser tests against LangGraph's Agent Server "
        "(langgraph dev from a venv in $CHATSTOP_ANCHOR_VENV, default /tmp/anchor-venv) "
        "instead of chatstop",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "agent_protocol: talks to `live_api`, so it also runs against the Agent Server",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    # Building the venv takes minutes the first time: do it before any test's timeout runs.
    if session.config.getoption(AGAINST_AGENT_SERVER):
        ensure_anchor_venv(anchor_venv())


@pytest.fixture(scope="session")
async def agent_server(
    scripted_model: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentServer]:
    project = tmp_path_factory.mktemp("agent-server")
    langgraph = ensure_anchor_venv(anchor_venv())
    server = await start_agent_server(langgraph, project, scripted_model.base_url)
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def live_api(request: pytest.FixtureRequest) -> LiveApi:
    """(api_url, assistant_id, api_key) of the server under test. A sync fixture so it can
    pick its async dependency at run time without starting the other server."""
    if request.config.getoption(AGAINST_AGENT_SERVER):
        server: AgentServer = request.getfixturevalue("agent_server")
        return LiveApi(server.url, GRAPH_ID, None)
    stack = request.getfixturevalue("stack")
    return LiveApi(stack.api_url, CHATSTOP_ASSISTANT, None)


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary; tests needing it skip only when node is not installed at all."""
    found = shutil.which("node")
    if found is None:
        pytest.skip("needs node (v20+) for the LangGraph JS client: apt-get install -y nodejs")
    if not SDK_PACKAGE.exists():
        pytest.fail(f"{SDK_PACKAGE} is missing: run `make test` or `npm ci --prefix tests/js`")
    return found


@pytest.fixture
def js_env(live_api: LiveApi, marker: str) -> dict[str, str]:
    """What tests/js scripts read from the environment."""
    env = {"API_URL": live_api.api_url, "ASSISTANT_ID": live_api.assistant_id, "MARKER": marker}
    if live_api.api_key:
        env["API_KEY"] = live_api.api_key
    return env
