"""The thread workflow decides, so no API process has to: a crash between admitting a run and
writing its row strands nothing, a retried request starts nothing twice, a turn that ignores
its stop cannot hold its thread, a second stop is answered honestly, and a long thread keeps
working."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph_sdk import get_client

from api.run_input import new_run_record
from api.runs_service import run_request
from api.schemas import RunCreate
from api.temporal_gateway import TemporalGateway
from core.contracts import turn_workflow_id
from core.messages import to_dicts
from tests.fixtures.eventually import eventually
from tests.stack import Stack, another_api

pytestmark = pytest.mark.integration

HANGING = {"hanging_agent": "tests.agents_for_tests:hanging_agent"}


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_an_api_crash_after_admission_strands_nothing(stack: Stack, marker: str) -> None:
    """The API dies right after the thread workflow admitted the run, before writing its
    row: the turn writes the row itself, runs, and the run reads back as any other."""
    client = get_client(url=stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    body = RunCreate(assistant_id="agent", input=_user(f"[tokens=5] crash window {marker}"))
    run = new_run_record(thread, body, "anonymous", streaming=False, limits=stack.settings.limits)
    request = run_request(stack.settings, run, "agents.react:graph")
    gateway = TemporalGateway(stack.settings, stack.client)

    first = await gateway.submit_run(request, "anonymous")
    again = await gateway.submit_run(request, "anonymous")  # the API's retry of the same run

    assert again == first  # Temporal deduplicates the update by its id: one admission

    async def recorded() -> bool:
        return any(r["run_id"] == run.run_id for r in await client.runs.list(thread))

    await eventually(recorded, within=20, what="the turn wrote the run's row itself")
    done = await client.runs.join(thread, run.run_id)
    assert "__error__" not in done
    record = await client.runs.get(thread, run.run_id)
    assert record["status"] == "success"
    assert len(stack.model_calls(marker)) == 1  # one turn, never two
    assert (await client.threads.get(thread))["status"] == "idle"


async def test_a_retried_request_with_an_idempotency_key_is_the_same_run(
    stack: Stack, marker: str
) -> None:
    client = get_client(url=stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    body = {"assistant_id": "agent", "input": _user(f"[tokens=3] once {marker}")}
    headers = {"Idempotency-Key": f"key-{marker}"}
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        first = await http.post(f"/threads/{thread}/runs", json=body, headers=headers)
        second = await http.post(f"/threads/{thread}/runs", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["run_id"] == second.json()["run_id"]
    await client.runs.join(thread, first.json()["run_id"])
    assert len(stack.model_calls(marker)) == 1
    assert len(await client.runs.list(thread)) == 1


async def test_a_turn_that_ignores_its_stop_is_terminated_and_the_thread_goes_on(
    stack: Stack, marker: str
) -> None:
    async with another_api(
        stack, limits={"stop_grace_seconds": 2}, graphs={**stack.settings.graphs, **HANGING}
    ) as url:
        client = get_client(url=url)
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread, "hanging_agent", input=_user(f"hang {marker}"))

        async def running() -> bool:
            return (await client.runs.get(thread, run["run_id"]))["status"] == "running"

        await eventually(running, within=20, what="the hanging turn started")
        await client.runs.cancel(thread, run["run_id"])
        await client.runs.join(thread, run["run_id"])
        ended: Any = await client.runs.get(thread, run["run_id"])
        assert ended["status"] == "error"
        assert "terminated" in ended["outcome"]["error"]
        assert "not honoured within 2 s" in ended["outcome"]["error"]
        follow_up = await client.runs.wait(thread, "agent", input=_user(f"[tokens=3] {marker}"))
        assert "__error__" not in follow_up
        assert (await client.threads.get(thread))["status"] == "idle"


async def test_a_turn_terminated_by_hand_ends_its_run_and_frees_its_thread(
    stack: Stack, marker: str
) -> None:
    """A turn is a top-level workflow its thread follows by signal: one that closes without
    ending its run (terminated in the Web UI) is found at the thread's next check."""
    async with another_api(stack, limits={"turn_check_seconds": 1}) as url:
        client = get_client(url=url)
        thread = (await client.threads.create())["thread_id"]
        long = _user(f"[tokens=3000][pace=10] terminated {marker}")
        run = await client.runs.create(thread, "agent", input=long)

        async def running() -> bool:
            return (await client.runs.get(thread, run["run_id"]))["status"] == "running"

        await eventually(running, within=20, what="the turn started")
        turn = stack.client.get_workflow_handle(turn_workflow_id(thread, run["run_id"]))
        assert (await turn.describe()).parent_id is None  # top-level, not a child
        await turn.terminate(reason="by hand")
        await client.runs.join(thread, run["run_id"])
        ended: Any = await client.runs.get(thread, run["run_id"])
        assert ended["status"] == "error"
        assert "without finishing its run (terminated)" in ended["outcome"]["error"]
        follow_up = await client.runs.wait(thread, "agent", input=_user(f"[tokens=3] {marker}"))
        assert "__error__" not in follow_up
        assert (await client.threads.get(thread))["status"] == "idle"


async def test_a_second_different_stop_is_refused_and_the_same_one_is_idempotent(
    stack: Stack, marker: str
) -> None:
    client = get_client(url=stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread, "agent", input=_user(f"[tokens=3000][pace=10] {marker}"))
    path = f"/threads/{thread}/runs/{run['run_id']}/cancel"
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        first = await http.post(path, params={"action": "interrupt"})
        same = await http.post(path, params={"action": "interrupt"})
        other = await http.post(path, params={"action": "rollback"})
    assert first.status_code == 202 and same.status_code in (202, 409)
    if same.status_code == 409:  # it had already ended: that is said, not a silent 202
        assert "already ended" in same.json()["detail"]
    assert other.status_code == 409
    assert other.json()["detail"] in (
        f"Run {run['run_id']} is already being stopped with action 'interrupt' (by anonymous);"
        " a run is stopped once, so 'rollback' cannot apply. Wait for it to end, then start a "
        "new run.",
        f"Run {run['run_id']} already ended with status 'interrupted'; there is nothing to stop.",
    )
    await client.runs.join(thread, run["run_id"])
    ended: Any = await client.runs.get(thread, run["run_id"])
    assert ended["outcome"]["outcome"] == "interrupted"


async def test_a_long_thread_past_the_payload_limit_still_takes_turns(
    stack: Stack, marker: str
) -> None:
    """2,000 messages and 3 MB, over Temporal's 2 MB payload limit: the turn carries a window
    (core.contracts.ContextPolicy) by reference, and the thread keeps everything."""
    client = get_client(url=stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    filler = "x" * 1500
    history: list[BaseMessage] = []
    for index in range(1000):
        history.append(HumanMessage(content=f"q{index} {filler}", id=f"h{index}-{uuid.uuid4()}"))
        history.append(AIMessage(content=f"a{index} {filler}", id=f"a{index}-{uuid.uuid4()}"))
    await stack.store.commit(thread, to_dicts(history))

    result: Any = await client.runs.wait(
        thread, "agent", input=_user(f"[tokens=5] still here {marker}")
    )

    assert "__error__" not in result
    assert len(result["messages"]) == 2002
    [call] = stack.model_calls(marker)
    # The system prompt, the window (at most 200 stored messages: ContextPolicy) and the input.
    assert len(call["messages"]) <= 202
    assert call["messages"][1]["role"] == "user"  # the window starts at a user message
