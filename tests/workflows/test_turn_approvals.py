"""Approval before sensitive tools, interrupts, step budgets and deadlines: the turn waits in
its own workflow on durable timers, so a day-long wait is proven in seconds here, on the
time-skipping server."""

from __future__ import annotations

import json
import uuid
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import SearchAttributeKey

from agents.demo_tools import count_tickets, sent_emails
from core.contracts import SA_TURN_STATUS, TurnOutcome
from tests.fixtures.eventually import eventually
from tests.support import LiveEvent, TurnRig, token_texts

EMAIL = {"to": "ann@example.com", "subject": "quarterly numbers"}
ASKING = "tests.agents_for_tests:asking_agent"


def _tool(name: str, **args: object) -> str:
    return f"[tool={name} {json.dumps(args)}]"


def _data_dir(rig: TurnRig) -> Any:
    return rig.settings.data_path(rig.settings.store.sqlite_path).parent


async def _paused(rig: TurnRig, handle: WorkflowHandle[Any, Any]) -> list[LiveEvent]:
    """The first run's events, up to its `end` (outcome paused); the turn stays open."""
    events = [e async for e in rig.events(handle)]
    assert events[-1].kind == "end" and events[-1].data["outcome"] == "paused", events[-1]
    key = SearchAttributeKey.for_keyword(SA_TURN_STATUS)

    async def awaiting() -> bool:
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        return description.typed_search_attributes.get(key) == "awaiting_approval"

    # `temporal workflow list --query 'TurnStatus="awaiting_approval"'` finds the turn.
    await eventually(awaiting, within=10, what="the turn is listed as awaiting approval")
    return events


def _interrupt(events: list[LiveEvent]) -> dict[str, Any]:
    [update] = [
        e.data["__interrupt__"] for e in events if e.kind == "updates" and "__interrupt__" in e.data
    ]
    return dict(update[0]["value"])


async def _decide(
    rig: TurnRig, handle: WorkflowHandle[Any, TurnOutcome], decision: Any
) -> tuple[TurnOutcome, list[LiveEvent]]:
    run_id = await rig.resume(handle, {"decisions": [decision]})
    events = [e async for e in rig.events(handle, run_id)]
    return await rig.outcome(handle), events


async def test_a_gated_tool_pauses_in_hitl_shape_and_runs_once_approved(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"{_tool('send_email', **EMAIL)}[tokens=5] {marker}", thread_id=thread)
    request = _interrupt(await _paused(rig, handle))

    assert request["action_requests"] == [
        {
            "name": "send_email",
            "args": EMAIL,
            "description": request["action_requests"][0]["description"],
        }
    ]
    assert request["review_configs"] == [
        {"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject", "respond"]}
    ]
    assert sent_emails(_data_dir(rig)) == []  # nothing ran before the decision
    paused_state = await rig.store.messages(thread)
    assert [m["type"] for m in paused_state] == ["human", "ai"]  # the pending call is visible

    outcome, events = await _decide(rig, handle, {"type": "approve"})
    assert outcome.outcome == "completed"
    assert sent_emails(_data_dir(rig)) == [(EMAIL["to"], EMAIL["subject"])]
    assert len(token_texts(events)) == 5 and events[-1].data["outcome"] == "completed"
    messages = await rig.store.messages(thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[2]["content"] == f"email to {EMAIL['to']} sent: {EMAIL['subject']}"


async def test_a_rejected_call_says_so_and_the_model_carries_on(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"{_tool('send_email', **EMAIL)}[tokens=3] {marker}", thread_id=thread)
    await _paused(rig, handle)
    outcome, _ = await _decide(rig, handle, {"type": "reject", "message": "not to Ann"})

    assert outcome.outcome == "completed" and sent_emails(_data_dir(rig)) == []
    tool = (await rig.store.messages(thread))[2]
    assert tool["content"] == "User rejected the tool call for `send_email` with reason: not to Ann"
    last_call = rig.model_calls(marker)[-1]
    assert any(m["role"] == "tool" and "not to Ann" in m["content"] for m in last_call["messages"])


async def test_an_edited_call_runs_with_the_reviewers_arguments(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"{_tool('send_email', **EMAIL)}[tokens=3] {marker}", thread_id=thread)
    await _paused(rig, handle)
    edited = {"name": "send_email", "args": {"to": "bob@example.com", "subject": "numbers"}}
    outcome, _ = await _decide(rig, handle, {"type": "edit", "edited_action": edited})

    assert outcome.outcome == "completed"
    assert sent_emails(_data_dir(rig)) == [("bob@example.com", "numbers")]
    tool = (await rig.store.messages(thread))[2]
    assert tool["content"].startswith("Note: a reviewer edited this call's arguments")


async def test_nobody_answering_for_a_day_rejects_the_call_and_ends_cleanly(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"{_tool('send_email', **EMAIL)} {marker}", thread_id=thread)
    await _paused(rig, handle)
    outcome = await rig.outcome(handle, skip_time=True)  # the 24-hour timer, skipped

    assert outcome.outcome == "approval_expired"
    assert outcome.error == "approval timed out after 24 h"
    assert sent_emails(_data_dir(rig)) == []
    messages = await rig.store.messages(thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool"]
    assert messages[2]["content"].endswith("with reason: approval timed out after 24 h")
    assert len(rig.model_calls(marker)) == 1  # no model call that nobody watches


async def test_stop_while_waiting_keeps_the_state_and_answers_the_pending_call(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"{_tool('send_email', **EMAIL)} {marker}", thread_id=thread)
    await _paused(rig, handle)
    await rig.stop(handle, reason="changed my mind")
    outcome = await rig.outcome(handle)

    assert outcome.outcome == "interrupted" and sent_emails(_data_dir(rig)) == []
    messages = await rig.store.messages(thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool"]
    assert messages[2]["content"] == "not run: stopped by the user"


async def test_rollback_while_waiting_leaves_the_thread_as_before_the_turn(
    rig: TurnRig, marker: str
) -> None:
    """The whole batch waits for the decision (as under HumanInTheLoopMiddleware), so no
    call of it ran; the rollback leaves the thread as it was before the turn, although the
    pause had committed the pending call for everyone to see."""
    thread = str(uuid.uuid4())
    prompt = f"{_tool('create_ticket', title=marker)}{_tool('send_email', **EMAIL)} {marker}"
    tickets = count_tickets(_data_dir(rig))
    handle = await rig.start(prompt, thread_id=thread)
    await _paused(rig, handle)
    assert len(await rig.store.messages(thread)) == 2
    await rig.stop(handle, action="rollback")
    outcome = await rig.outcome(handle)

    assert outcome.outcome == "rolled_back"
    assert count_tickets(_data_dir(rig)) == tickets and sent_emails(_data_dir(rig)) == []
    assert await rig.store.messages(thread) == []


async def test_the_step_budget_ends_the_turn_like_a_stop_that_keeps(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    config = {"configurable": {"max_model_calls": 1}}
    handle = await rig.start(f"{_tool('search_docs', query='x')}[tokens=5] {marker}",
                             thread_id=thread, config=config)  # fmt: skip
    outcome = await rig.outcome(handle)

    assert outcome.outcome == "interrupted" and outcome.stop is not None
    assert outcome.stop.actor == "chatstop"
    assert outcome.stop.reason == "budget exhausted: at most 1 model calls per turn"
    assert len(rig.model_calls(marker)) == 1
    messages = await rig.store.messages(thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool"]  # the tool result is kept


async def test_the_deadline_ends_the_turn_keeping_the_partial_answer(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    config = {"configurable": {"deadline_seconds": 5}}
    handle = await rig.start(f"[tokens=5000][pace=20] {marker}", thread_id=thread, config=config)
    await eventually(lambda: rig.model_calls(marker), within=20, what="the model streams")
    outcome = await rig.outcome(handle, skip_time=True)  # the deadline timer, skipped to

    assert outcome.outcome == "interrupted" and outcome.stop is not None
    assert outcome.stop.reason == "deadline: the turn ran past 5 s"
    [call] = await rig.wait_model_calls_closed(marker)
    assert call["disconnected"] is True
    answer = (await rig.store.messages(thread))[-1]
    assert answer["response_metadata"]["stopped_by"] == "chatstop"


async def test_a_graphs_own_interrupt_pauses_and_resumes_with_the_answer(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"pick {marker}", thread_id=thread, graph=ASKING)
    events = await _paused(rig, handle)
    assert _interrupt(events) == {"question": "Which colour?"}

    run_id = await rig.resume(handle, "blue")
    [e async for e in rig.events(handle, run_id)]
    outcome = await rig.outcome(handle)

    assert outcome.outcome == "completed"
    assert (await rig.store.messages(thread))[-1]["content"] == "you chose blue"


async def test_interrupt_before_a_node_pauses_there_and_resumes(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"{_tool('search_docs', query='x')}[tokens=3] {marker}",
                             thread_id=thread, interrupt_before=["tools"])  # fmt: skip
    await _paused(rig, handle)
    assert len(rig.model_calls(marker)) == 1

    run_id = await rig.resume(handle, None)
    [e async for e in rig.events(handle, run_id)]
    outcome = await rig.outcome(handle)
    assert outcome.outcome == "completed"
    assert [m["type"] for m in await rig.store.messages(thread)] == ["human", "ai", "tool", "ai"]
