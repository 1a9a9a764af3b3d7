"""LangGraph's own Agent Server as the reference for the browser-facing tests
(`pytest --against-agent-server`).

`langgraph dev` (langgraph-cli 0.4.40, in-memory runtime) serves a one-node graph whose model
is ChatOpenAI pointed at the session's scripted model, so it streams the same canned answers
chatstop's agent does, and the model log shows when it hangs up. It runs from a throwaway venv
outside the repo, built once and reused (CHATSTOP_ANCHOR_VENV, default /tmp/anchor-venv).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx

from tests.e2e.js_support import eventually

# langchain-openai at chatstop's own version, so both servers use the same model client.
ANCHOR_PACKAGES = (
    "langgraph-cli[inmem]==0.4.40",
    f"langchain-openai=={version('langchain-openai')}",
)
GRAPH_ID = "agent"
STARTUP_SECONDS = 90

# The node is called "model", like chatstop's, so stream metadata names the same node.
GRAPH_SOURCE = """\
import os

from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph

model = ChatOpenAI(
    model="scripted",
    streaming=True,
    base_url=os.environ["SCRIPTED_MODEL_URL"],
    api_key="scripted",
    max_retries=0,
)


async def call_model(state: MessagesState) -> dict:
    return {"messages": [await model.ainvoke(state["messages"])]}


graph = (
    StateGraph(MessagesState)
    .add_node("model", call_model)
    .add_edge(START, "model")
    .add_edge("model", END)
    .compile()
)
"""


def anchor_venv() -> Path:
    return Path(os.environ.get("CHATSTOP_ANCHOR_VENV", "/tmp/anchor-venv"))


def ensure_anchor_venv(venv: Path) -> Path:
    """The `langgraph` CLI of the reference venv, building the venv first if needed (minutes,
    once; called at session start, outside any test's timeout)."""
    langgraph = venv / "bin" / "langgraph"
    if langgraph.exists():
        return langgraph
    print(f"\nbuilding the Agent Server venv at {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(venv / "bin" / "pip"), "install", "--quiet", *ANCHOR_PACKAGES]
    done = subprocess.run(install, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {ANCHOR_PACKAGES} failed:\n{done.stderr[-4000:]}")
    return langgraph


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AgentServer:
    url: str
    process: asyncio.subprocess.Process
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    async def stop(self) -> None:
        """Terminate the server's process group (it was started in a session of its own)."""
        if self.process.returncode is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


async def start_agent_server(langgraph: Path, project: Path, model_base_url: str) -> AgentServer:
    """Write the graph project into `project` and serve it; return once /ok answers."""
    (project / "graph.py").write_text(GRAPH_SOURCE)
    config = {"dependencies": ["."], "graphs": {GRAPH_ID: "./graph.py:graph"}}
    (project / "langgraph.json").write_text(json.dumps(config))
    port = _free_port()
    log_path = project / "server.log"
    env = {
        **os.environ,
        "SCRIPTED_MODEL_URL": model_base_url,
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(langgraph),
            *("dev", "--no-browser", "--no-reload", "--port", str(port)),
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = AgentServer(f"http://127.0.0.1:{port}", process, log_path)

    async def ready() -> bool | None:
        if process.returncode is not None:
            raise RuntimeError(f"langgraph dev exited {process.returncode}:\n{server.log_tail()}")
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"{server.url}/ok")).status_code == 200 or None
        except httpx.TransportError:
            return None

    try:
        await eventually(ready, within=STARTUP_SECONDS, what="langgraph dev answering /ok")
    except AssertionError as slow:
        await server.stop()
        raise AssertionError(f"{slow}; its log:\n{server.log_tail()}") from None
    except BaseException:
        await server.stop()
        raise
    return server
