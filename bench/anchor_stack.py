"""The anchor under test: LangGraph's own Agent Server, `langgraph dev` from PyPI
`langgraph-cli[inmem]`, serving bench/anchor's equivalent ReAct graph.

It lives in its own venv (.venv-anchor, made by `make bench`) because langgraph-cli's
dependencies would shift chatstop's. It runs in a fresh folder each time: the
in-memory runtime pickles its state into ./.langgraph_api every 10 s and would otherwise
reload the previous run's threads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bench.processes import launch, stop_group, wait_http
from bench.scripted import ScriptedModel
from bench.systems import System
from devstack.isolated import free_port

BENCH_DIR = Path(__file__).resolve().parent
ANCHOR_DIR = BENCH_DIR / "anchor"
ANCHOR_VENV = BENCH_DIR.parent / ".venv-anchor"
LANGGRAPH = ANCHOR_VENV / "bin" / "langgraph"
STARTUP_SECONDS = 120
DEFAULT_JOBS = 1000
"""Runs the anchor may execute at once. `langgraph dev` without --n-jobs-per-worker runs ONE
run at a time (langgraph_api.cli passes 1, whatever its help says), which would queue every
concurrent stream behind the first; chatstop's worker runs up to 200 activities at once."""

# Nothing may phone home (the machine has no internet): langgraph-cli's usage analytics,
# langgraph-api's PyPI version check, LangSmith tracing. The license metadata loop only runs
# with a license key, which is dropped with every other LANGSMITH_/LANGCHAIN_ variable.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}
DROPPED_PREFIXES = ("LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_", "OPENAI_", "CHATSTOP_")


@dataclass
class AnchorSystem(System):
    pid: int

    def server_roots(self) -> dict[str, int]:
        return {"langgraph dev": self.pid}


def unavailable() -> str | None:
    """Why the anchor cannot run here, if it cannot."""
    if not LANGGRAPH.exists():
        return f"{LANGGRAPH} is missing: `make bench` (or `make anchor-venv`) creates it"
    return None


def _version(distribution: str) -> str:
    """An anchor package's version, read from the anchor venv (not ours)."""
    found = sorted(ANCHOR_VENV.glob(f"lib/python*/site-packages/{distribution}-*.dist-info"))
    return found[-1].name.removesuffix(".dist-info").split("-", 1)[1] if found else "?"


def anchor_env(model: ScriptedModel) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES)}
    return (
        env
        | OFFLINE_ENV
        | {
            "PYTHONPATH": str(ANCHOR_DIR),  # langgraph.json names the graph by module
            "BENCH_SCRIPTED_MODEL_URL": model.openai_base_url,
        }
    )


@contextlib.asynccontextmanager
async def anchor(
    model: ScriptedModel, workdir: Path, jobs: int = DEFAULT_JOBS
) -> AsyncIterator[AnchorSystem]:
    port = free_port()
    argv = [
        str(LANGGRAPH), "dev", "--no-browser", "--no-reload",
        "--host", "127.0.0.1", "--port", str(port),
        "--config", str(ANCHOR_DIR / "langgraph.json"),
        "--n-jobs-per-worker", str(jobs),
    ]  # fmt: skip
    log = workdir / "anchor.log"
    proc = await launch(argv, cwd=workdir, log=log, env=anchor_env(model))
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/ok", proc, log, STARTUP_SECONDS)
        yield AnchorSystem(
            name="anchor",
            api_url=url,
            model=model,
            settings=(
                f"anchor (langgraph dev, langgraph-api {_version('langgraph_api')}, in-memory "
                f"runtime, --n-jobs-per-worker {jobs})"
            ),
            pid=proc.pid,
        )
    finally:
        await stop_group(proc)
