"""Helpers for the tests that drive the LangGraph JS client (tests/js) against a live API."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SDK_PACKAGE = JS_DIR / "node_modules" / "@langchain" / "langgraph-sdk"

T = TypeVar("T")


@dataclass(frozen=True)
class NodeRun:
    returncode: int
    stdout: str
    stderr: str

    def summary(self) -> dict[str, Any]:
        """The JSON line a script prints last on stdout."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"no output (exit {self.returncode}); stderr:\n{self.stderr}"
        return dict(json.loads(lines[-1]))


async def run_node(
    node: str, script: Path, *args: str, env: Mapping[str, str], within: float = 90
) -> NodeRun:
    """Run a node script without blocking the event loop: the scripted model and the
    in-process API it talks to are served by this same loop."""
    process = await asyncio.create_subprocess_exec(
        node,
        str(script),
        *args,
        cwd=JS_DIR,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(
            f"{script.name} {' '.join(args)} still running after {within}s"
        ) from None
    return NodeRun(process.returncode or 0, stdout.decode(), stderr.decode())


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float, what: str, every: float = 0.05
) -> T:
    """The first non-None answer of `probe`, polled until the deadline. For state held by
    another process (a server's readiness, a request log), where there is nothing to await."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        answer = await probe()
        if answer is not None:
            return answer
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(every)  # polling interval, not a wait for something to happen


async def ended_model_call(model: Any, marker: str, within: float = 15) -> dict[str, Any]:
    """The scripted model's log entry for the one request carrying `marker`, once it ended
    (the model notices a hang-up a moment after the client closes the stream)."""

    async def ended() -> dict[str, Any] | None:
        calls = model.request_log.snapshot(contains=marker)
        return dict(calls[-1]) if calls and calls[-1]["end"] is not None else None

    return await eventually(ended, within=within, what=f"a finished model call for {marker}")
