"""The OpenAPI schema is true: schemathesis generates requests from it (valid and invalid)
against the live API of the whole stack, with API keys on, and every answer must be
documented (status, content type, body schema) and none may be a 5xx. Whatever it sent, the
stack must still answer afterwards and a normal run must still complete."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.stack import Stack, another_api

pytestmark = pytest.mark.integration

KEY = "schemathesis-key-0123456789abcdef"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
MAX_EXAMPLES = 3
"""Per operation and phase, on top of the coverage phase's boundary cases: with ~40
operations, most of the run's time goes to generating cases (measured: 6 min at 6, of
which 80 s in requests)."""
WORKERS = 1
"""One at a time: the time goes to generating cases, not to requests, and with several
workers hypothesis crashed on Python 3.11 ("AST constructor recursion depth mismatch")."""
SEED = int(os.environ.get("CHATSTOP_SCHEMATHESIS_SEED", "20261121"))
"""Fixed so a failure reproduces; set the variable to explore other inputs."""
RUN_WITHIN = 480.0


def _schemathesis(url: str, report: Path) -> list[str]:
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/openapi.json",
        f"--checks={','.join(CHECKS)}",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        f"--header=x-api-key: {KEY}",
        "--generation-database=none",
        f"--workers={WORKERS}",
        "--request-timeout=30",
        "--report=har",
        f"--report-har-path={report}",
        "--no-color",
    ]


async def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), RUN_WITHIN)
    except TimeoutError:
        proc.kill()
        output, _ = await proc.communicate()
        raise AssertionError(f"schemathesis ran over {RUN_WITHIN} s:\n{output.decode()}") from None
    return proc.returncode or 0, output.decode(errors="replace")


def _statuses(report: Path) -> dict[int, int]:
    """How many requests got each status (the HAR report holds one entry per request)."""
    counts: dict[int, int] = {}
    for entry in json.loads(report.read_text())["log"]["entries"]:
        status = int(entry["response"]["status"])
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


async def _stop_what_it_started(url: str) -> list[str]:
    """The generated runs are real turns on the session's worker: stop them (the API's own
    bulk cancel, scoped to the key's user) so later tests do not share the worker with them."""
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}) as http:
        response = await http.post("/runs/cancel", json={"status": "all"}, timeout=60)
    assert response.status_code == 200, response.text
    cancelled: list[str] = response.json()["cancelled"]
    return cancelled


async def _runs_that_failed(url: str) -> list[dict[str, Any]]:
    """Runs the API admitted but the worker could not carry out: input the API should
    have refused (e.g. a number the worker's encoders cannot write)."""
    failed: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}) as http:
        threads = (await http.post("/threads/search", json={"limit": 1000})).json()
        for thread in threads:
            path = f"/threads/{thread['thread_id']}/runs"
            runs = (await http.get(path, params={"limit": 1000})).json()
            failed += [run for run in runs if run["status"] in ("error", "timeout")]
    return failed


async def _a_normal_run_completes(url: str) -> dict[str, Any]:
    client: Any = get_client(url=url, api_key=KEY)
    thread = await client.threads.create()
    values = await client.runs.wait(
        thread["thread_id"],
        "agent",
        input={"messages": [{"role": "user", "content": "[tokens=3] still there?"}]},
    )
    runs = await client.runs.list(thread["thread_id"])
    return {"values": values, "status": runs[0]["status"]}


@pytest.mark.timeout(RUN_WITHIN + 60)
async def test_the_live_api_answers_as_its_openapi_schema_says(
    stack: Stack, tmp_path: Path
) -> None:
    report = tmp_path / "schemathesis.har"
    overrides: dict[str, Any] = {
        "api": {"api_keys": {KEY: "schemathesis"}},
        # Generated runs are real turns: bound /wait and /join so a queue of them cannot
        # hold the run hostage (a bounded wait answers with the run as it is).
        "limits": {"max_wait_seconds": 0.5},
    }
    async with another_api(stack, **overrides) as url:
        code, output = await _run(_schemathesis(url, report), tmp_path)
        statuses = _statuses(report)
        stopped = await _stop_what_it_started(url)
        failed = await _runs_that_failed(url)
        print(f"schemathesis: {sum(statuses.values())} requests {statuses}, {len(stopped)} runs")
        print("left active (stopped afterwards)")
        after = await _a_normal_run_completes(url)
        async with httpx.AsyncClient(base_url=stack.api_url) as http:
            health = await http.get("/ok")

    assert code == 0, output
    assert failed == [], [(run["kwargs"]["input"], run["outcome"]) for run in failed]
    assert not [status for status in statuses if status >= 500], output
    assert {200, 404, 422} <= set(statuses), statuses  # it reached past the guards
    assert after["status"] == "success"
    assert after["values"]["messages"][-1]["type"] == "ai"
    assert health.json() == {"ok": True}
