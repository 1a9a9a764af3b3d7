"""Human approval through the official langgraph-sdk client, on the real dev server: a gated
tool (`send_email`) pauses the run in LangChain's HumanInTheLoopMiddleware shapes, a person
approves, edits or rejects it over HTTP (`command.resume`), and the pause survives worker and
API restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from agents.demo_tools import sent_emails
from api.app import create_app
from core.contracts import thread_workflow_id, turn_workflow_id
from core.settings import Settings
from devstack.asgi import serve_app
from devstack.scripted_model.runner import RunningScriptedModel
from tests.fixtures.eventually import eventually
from tests.fixtures.nats import NatsServer, settings_for
from tests.integration.worker_process import worker_process
from tests.stack import Stack, stack_settings

pytestmark = pytest.mark.integration

TO = "ann@example.com"
DECISIONS = ["approve", "edit", "reject", "respond"]


def _sdk(url: str) -> Any:
    """The official client, typed Any: its stubs say runs.cancel returns None, while it
    returns the server's JSON (the run with its outcome)."""
    return get_client(url=url)


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _email(marker: str) -> dict[str, str]:
    return {"to": TO, "subject": f"numbers {marker}"}


def _prompt(marker: str) -> str:
    return f"[tool=send_email {json.dumps(_email(marker))}][tokens=3] {marker}"


def _data_dir(settings: Settings) -> Path:
    return settings.data_path(settings.store.sqlite_path).parent


def _sent(settings: Settings, marker: str) -> list[tuple[str, str]]:
    """The emails this test sent (the stack's data dir is shared by the session)."""
    return [email for email in sent_emails(_data_dir(settings)) if marker in email[1]]


async def _pause(
    client: Any, thread: str, prompt: str, *, temporal: Client | None, **kwargs: Any
) -> list[Any]:
    """Stream a run whose model calls send_email; it ends paused, waiting for a decision.
    With `temporal`, also check that the thread workflow knows of the pause (the turn tells
    it before the run's `end` goes out)."""
    stream = client.runs.stream(
        thread, "agent", input=_user(prompt), stream_mode=["updates", "values"], **kwargs
    )
    parts = [part async for part in stream]
    end = parts[-1]
    assert end.event == "end" and (end.data["status"], end.data["outcome"]) == (
        "success", "paused"), end.data  # fmt: skip
    if temporal is not None:
        handle = temporal.get_workflow_handle(thread_workflow_id(thread))

        async def paused() -> bool:
            return bool((await handle.query("status"))["paused"])

        await eventually(paused, within=15, what="the thread workflow knows the turn paused")
    return parts


async def _decide(client: Any, thread: str, *decisions: dict[str, Any]) -> dict[str, Any]:
    """Answer the pending approval; the resuming run's `end`."""
    command = {"resume": {"decisions": list(decisions)}}
    parts = [p async for p in client.runs.stream(thread, "agent", command=command)]
    assert parts[0].event == "metadata" and parts[-1].event == "end", parts[-1]
    return dict(parts[-1].data)


async def _refused(stream: AsyncIterator[Any]) -> tuple[int, str]:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        async for _ in stream:
            pass
    error: Any = refused.value
    body = error.body if getattr(error, "body", None) is not None else error.response.json()
    return error.response.status_code, body["detail"]


async def _messages(client: Any, thread: str) -> list[dict[str, Any]]:
    return list((await client.threads.get_state(thread))["values"]["messages"])


async def test_a_gated_call_pauses_in_hitl_shape_and_runs_once_approved(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    parts = await _pause(client, thread, _prompt(marker), temporal=stack.client)

    [update] = [p.data for p in parts if p.event == "updates" and "__interrupt__" in p.data]
    [interrupt] = update["__interrupt__"]
    request = interrupt["value"]
    [action] = request["action_requests"]
    assert (action["name"], action["args"]) == ("send_email", _email(marker))
    assert action["description"].startswith("send_email")
    assert request["review_configs"] == [
        {"action_name": "send_email", "allowed_decisions": DECISIONS}
    ]
    pending = [{"value": request, "id": interrupt["id"]}]
    assert [p.data for p in parts if p.event == "values"][-1]["__interrupt__"][0]["id"] == (
        interrupt["id"])  # fmt: skip
    assert (await client.runs.get(thread, parts[0].data["run_id"]))["status"] == "success"

    record = await client.threads.get(thread)
    state = await client.threads.get_state(thread)
    assert record["status"] == "interrupted"
    [task] = state["tasks"]
    assert record["interrupts"] == {task["id"]: pending}
    assert (state["next"], state["interrupts"], task["name"]) == (["tools"], pending, "tools")
    assert task["interrupts"] == pending
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"]
    assert _sent(stack.settings, marker) == []  # nothing runs before the decision

    end = await _decide(client, thread, {"type": "approve"})
    assert (end["status"], end["outcome"]) == ("success", "completed")
    assert _sent(stack.settings, marker) == [(TO, f"numbers {marker}")]
    messages = await _messages(client, thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[2]["content"] == f"email to {TO} sent: numbers {marker}"
    assert messages[3]["content"].startswith("Using 1 tool results")
    assert len(stack.model_calls(marker)) == 2
    record = await client.threads.get(thread)
    assert (record["status"], record["interrupts"]) == ("idle", {})


async def test_an_approval_sent_as_agent_chat_ui_sends_it_runs_the_call(
    stack: Stack, marker: str
) -> None:
    """useStream's resume: `input: {}` beside the command, and the thread's latest
    checkpoint (from its history)."""
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    await _pause(client, thread, _prompt(marker), temporal=stack.client)
    [latest, *_] = await client.threads.get_history(thread, limit=1)

    parts = [
        part
        async for part in client.runs.stream(
            thread, "agent", input={}, checkpoint=latest["checkpoint"],
            command={"resume": {"decisions": [{"type": "approve"}]}},
            stream_mode=["messages-tuple", "values", "custom"], on_disconnect="cancel",
        )
    ]  # fmt: skip

    assert (parts[-1].data["status"], parts[-1].data["outcome"]) == ("success", "completed")
    assert _sent(stack.settings, marker) == [(TO, f"numbers {marker}")]
    assert [m["type"] for m in await _messages(client, thread)] == ["human", "ai", "tool", "ai"]


async def test_mark_as_resolved_ends_the_wait_without_running_the_call(
    stack: Stack, marker: str
) -> None:
    """agent-chat-ui's "Mark as Resolved": `command: {"goto": "__end__"}`."""
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    await _pause(client, thread, _prompt(marker), temporal=stack.client)

    stream = client.runs.stream(thread, "agent", input={}, command={"goto": "__end__"})
    end = [part async for part in stream][-1]

    assert (end.data["status"], end.data["outcome"]) == ("success", "resolved"), end.data
    assert _sent(stack.settings, marker) == [] and len(stack.model_calls(marker)) == 1
    messages = await _messages(client, thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool"]
    assert "marked as resolved by" in messages[2]["content"]
    assert (await client.threads.get(thread))["status"] == "idle"
    follow_up = await client.runs.wait(thread, "agent", input=_user(f"[tokens=2] on {marker}"))
    assert [m["type"] for m in follow_up["messages"]][-2:] == ["human", "ai"]


async def test_runs_wait_returns_the_interrupt_and_a_rejection_reaches_the_model(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    values = await client.runs.wait(thread, "agent", input=_user(_prompt(marker)))
    [pending] = values["__interrupt__"]
    assert set(pending) == {"value", "id"}
    assert pending["value"]["action_requests"][0]["args"] == _email(marker)
    assert [m["type"] for m in values["messages"]] == ["human", "ai"]

    reject = {"type": "reject", "message": "not to Ann"}
    command = {"resume": {"decisions": [reject]}}
    after = await client.runs.wait(thread, "agent", command=command)
    assert "__interrupt__" not in after
    tool = after["messages"][2]
    assert tool["content"] == "User rejected the tool call for `send_email` with reason: not to Ann"
    assert tool["status"] == "error" and after["messages"][3]["type"] == "ai"
    last_call = stack.model_calls(marker)[-1]
    assert any(m["role"] == "tool" and "not to Ann" in m["content"] for m in last_call["messages"])
    assert _sent(stack.settings, marker) == []
    assert (await client.threads.get(thread))["status"] == "idle"


async def test_an_edited_call_runs_with_the_reviewers_arguments(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    await _pause(client, thread, _prompt(marker), temporal=stack.client)
    edited = {"to": "bob@example.com", "subject": f"edited {marker}"}
    end = await _decide(client, thread, {"type": "edit", "edited_action": {
        "name": "send_email", "args": edited}})  # fmt: skip

    assert end["outcome"] == "completed"
    assert _sent(stack.settings, marker) == [("bob@example.com", f"edited {marker}")]
    tool = (await _messages(client, thread))[2]
    assert tool["content"].startswith("Note: a reviewer edited this call's arguments")
    assert tool["content"].endswith(f"email to bob@example.com sent: edited {marker}")


async def test_a_resume_that_does_not_fit_is_refused_with_a_detail(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    await _pause(client, thread, _prompt(marker), temporal=stack.client)
    for decisions in ([], [{"type": "approve"}, {"type": "approve"}]):
        command = {"resume": {"decisions": decisions}}
        status, detail = await _refused(client.runs.stream(thread, "agent", command=command))
        assert status == 422 and "with 1 decision(s), one per pending tool call" in detail
    assert (await client.threads.get(thread))["status"] == "interrupted"  # still waiting
    assert len(await client.runs.list(thread)) == 1 and _sent(stack.settings, marker) == []

    idle = (await client.threads.create())["thread_id"]
    await client.runs.wait(idle, "agent", input=_user(f"[tokens=2] {marker}"))
    command = {"resume": {"decisions": [{"type": "approve"}]}}
    status, detail = await _refused(client.runs.stream(idle, "agent", command=command))
    assert status == 409 and f"Thread {idle} has no pending interrupt" in detail


async def test_stop_while_waiting_answers_the_pending_call(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    parts = await _pause(client, thread, _prompt(marker), temporal=stack.client)
    run_id = parts[0].data["run_id"]
    stopped = await client.runs.cancel(thread, run_id, wait=True, action="interrupt")

    assert stopped["outcome"]["outcome"] == "interrupted", stopped
    messages = await _messages(client, thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool"]
    assert messages[2]["content"] == "not run: stopped by the user"
    record = await client.threads.get(thread)
    assert (record["status"], record["interrupts"]) == ("idle", {})
    assert _sent(stack.settings, marker) == []


async def test_rollback_while_waiting_restores_the_thread(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    await client.runs.wait(thread, "agent", input=_user(f"[tokens=2] before {marker}"))
    before = await _messages(client, thread)
    parts = await _pause(client, thread, _prompt(marker), temporal=stack.client)
    run_id = parts[0].data["run_id"]
    undone = await client.runs.cancel(thread, run_id, wait=True, action="rollback")

    assert undone["outcome"]["outcome"] == "rolled_back", undone
    assert await _messages(client, thread) == before
    assert (await client.threads.get(thread))["status"] == "idle"
    assert _sent(stack.settings, marker) == []


async def test_an_unanswered_approval_times_out_as_a_rejection(stack: Stack, marker: str) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    config = {"configurable": {"approval_timeout_seconds": 2}}
    parts = await _pause(client, thread, _prompt(marker), temporal=None, config=config)
    run_id = parts[0].data["run_id"]
    assert (await client.threads.get(thread))["status"] == "interrupted"

    async def idle() -> bool:
        return (await client.threads.get(thread))["status"] == "idle"

    await eventually(idle, within=30, what="the approval timed out and the thread is idle")
    messages = await _messages(client, thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool"]
    assert "approval timed out" in messages[2]["content"] and messages[2]["status"] == "error"
    run = await client.runs.get(thread, run_id)
    assert run["outcome"]["outcome"] == "approval_expired", run["outcome"]
    assert _sent(stack.settings, marker) == [] and len(stack.model_calls(marker)) == 1
    assert (await client.threads.get(thread))["interrupts"] == {}


async def test_temporal_lists_the_paused_turn_as_awaiting_approval(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack.api_url)
    thread = (await client.threads.create())["thread_id"]
    parts = await _pause(client, thread, _prompt(marker), temporal=stack.client)
    run_id = parts[0].data["run_id"]
    query = f'TurnStatus="awaiting_approval" AND ThreadId="{thread}"'

    async def listed() -> list[str]:
        return [w.id async for w in stack.client.list_workflows(query)]

    found = await eventually(listed, within=15, what="the paused turn is listed")
    assert found == [turn_workflow_id(thread, run_id)]
    await _decide(client, thread, {"type": "approve"})

    async def unlisted() -> bool:
        return not await listed()

    await eventually(unlisted, within=15, what="the answered turn is no longer listed")


async def test_a_resume_sent_as_soon_as_the_pause_ends_is_accepted(
    stack: Stack, marker: str
) -> None:
    """finish_turn promises that a client seeing `end` finds everything done, and the thread
    then says `interrupted`: an answer sent at once must be taken (the Agent Server would
    take it). A race, so tried on several threads at once."""
    client = _sdk(stack.api_url)
    approve = {"resume": {"decisions": [{"type": "approve"}]}}

    async def pause_then_approve(word: str) -> str | None:
        thread = (await client.threads.create())["thread_id"]
        await _pause(client, thread, _prompt(word), temporal=None)
        try:
            run = await client.runs.create(thread, "agent", command=approve)
        except httpx.HTTPStatusError as refused:
            return f"{refused.response.status_code} {refused.response.text}"
        await client.runs.join(thread, run["run_id"])
        return None

    answers = await asyncio.gather(*(pause_then_approve(f"{marker}-{i}") for i in range(8)))
    assert [answer for answer in answers if answer] == []
    assert len(_sent(stack.settings, marker)) == 8


@dataclass
class Restarts:
    """Workers as real processes and APIs served in this process, on their own settings
    (task queue, stores), so either can be restarted while a turn waits for a person."""

    settings: Settings
    temporal: Client

    def worker(self, name: str) -> Any:
        log = _data_dir(self.settings) / f"worker-{name}.log"
        return worker_process(self.temporal, self.settings, log)

    @asynccontextmanager
    async def api(self) -> AsyncIterator[Any]:
        app = create_app(self.settings, temporal_client=self.temporal)
        served = await serve_app(app, name="api")
        try:
            yield _sdk(served.url)
        finally:
            await served.stop()


@pytest_asyncio.fixture
async def restarts(
    dev_server: WorkflowEnvironment,
    scripted_model: RunningScriptedModel,
    nats_server: NatsServer,
    tmp_path: Path,
) -> Restarts:
    broker = settings_for(nats_server.url)
    settings = stack_settings(tmp_path, scripted_model, dev_server.client, broker)
    return Restarts(settings, dev_server.client)


async def _approved_in_full(client: Any, restarts: Restarts, thread: str, marker: str) -> None:
    end = await _decide(client, thread, {"type": "approve"})
    assert (end["status"], end["outcome"]) == ("success", "completed"), end
    assert _sent(restarts.settings, marker) == [(TO, f"numbers {marker}")]
    messages = await _messages(client, thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert (await client.threads.get(thread))["status"] == "idle"


async def test_an_approval_survives_a_worker_restart(restarts: Restarts, marker: str) -> None:
    async with restarts.api() as client:
        thread = (await client.threads.create())["thread_id"]
        async with restarts.worker("a") as first:
            await _pause(client, thread, _prompt(marker), temporal=restarts.temporal)
            assert await first.shut_down() == 0, first.output()
        async with restarts.worker("b"):
            await _approved_in_full(client, restarts, thread, marker)


async def test_an_approval_survives_an_api_restart(restarts: Restarts, marker: str) -> None:
    async with restarts.worker("a"):
        async with restarts.api() as first:
            thread = (await first.threads.create())["thread_id"]
            parts = await _pause(first, thread, _prompt(marker), temporal=restarts.temporal)
        async with restarts.api() as second:  # a fresh API on the same settings
            record = await second.threads.get(thread)
            [pending] = [p.data for p in parts if p.event == "values"][-1]["__interrupt__"]
            assert record["status"] == "interrupted"
            expected = {"value": pending["value"], "id": pending["id"]}
            assert list(record["interrupts"].values()) == [[expected]]
            await _approved_in_full(second, restarts, thread, marker)
