"""Stop: the model stream and the running tool halt, nothing starts afterwards, the partial
state is kept and marked, dangling tool calls are answered, and the thread goes on."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

import temporalio.api.sdk.v1
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from core.contracts import SA_TURN_STATUS
from tests.support import LiveEvent, TurnRig, history_activity_names, running_rig, token_texts
from workflows.compensation import STOPPED_WHILE_RUNNING


def _tool(name: str, **args: object) -> str:
    return f"[tool={name} {json.dumps(args)}]"


async def _nth_token(rig: TurnRig, handle: object, n: int) -> None:
    count = 0

    def nth(event: LiveEvent) -> bool:
        nonlocal count
        count += len(token_texts([event]))
        return count >= n

    await rig.wait_for_event(handle, nth)  # type: ignore[arg-type]


async def test_stop_mid_stream_keeps_partial_answer_marked_stopped(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[tokens=500][pace=20] {marker}", thread_id=thread)
    await _nth_token(rig, handle, 10)
    await rig.stop(handle, reason="enough, thanks")
    outcome = await rig.outcome(handle)

    assert outcome.status == "interrupted" and outcome.outcome == "interrupted"
    assert outcome.stop is not None and outcome.stop.actor == "tester"
    [call] = await rig.wait_model_calls_closed(marker)  # one call: nothing started after stop
    assert call["disconnected"] is True and 10 <= call["tokens"] < 500
    messages = await rig.store.messages(thread)
    assert [m["type"] for m in messages] == ["human", "ai"]
    answer = messages[1]
    assert answer["content"] and len(answer["content"].split()) < 500
    assert answer["response_metadata"]["stopped"] is True
    assert answer["response_metadata"]["stop_reason"] == "enough, thanks"
    assert answer["response_metadata"]["stopped_by"] == "tester"
    assert any(k.startswith("partial answer") for k in outcome.kept)


async def test_stop_during_tool_call_answers_the_dangling_call(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    prompt = f"{_tool('generate_report', topic='q3', seconds=30)} {marker}"
    handle = await rig.start(prompt, thread_id=thread)
    await rig.wait_for_event(handle, lambda e: e.kind == "progress")  # first progress report
    await rig.stop(handle)
    outcome = await rig.outcome(handle)

    assert outcome.status == "interrupted"
    assert rig.tools.calls["generate_report"] == 1
    assert len(rig.model_calls(marker)) == 1  # the tool-calling reply only
    messages = await rig.store.messages(thread)
    # Nothing empty is kept: the answered tool call is the turn's last message, marked.
    assert [m["type"] for m in messages] == ["human", "ai", "tool"]
    tool_message = messages[2]
    assert tool_message["content"].startswith(STOPPED_WHILE_RUNNING)
    assert "q3: section 1/30 written" in tool_message["content"]
    assert tool_message["response_metadata"]["stopped"] is True
    assert tool_message["response_metadata"]["stopped_by"] == "tester"

    # The next message continues the conversation: the model gets a valid history (the
    # scripted model answers 400 to dangling tool calls, as OpenAI does).
    follow_up = await rig.start(f"[tokens=4] go on {marker}", thread_id=thread)
    assert (await rig.outcome(follow_up)).status == "success"
    assert rig.model_calls(marker)[-1]["status"] == 200


async def test_stop_between_parallel_tool_calls_keeps_completed_results(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    prompt = (
        f"{_tool('search_docs', query='rollback')}"
        f"{_tool('generate_report', topic='q4', seconds=30)} {marker}"
    )
    handle = await rig.start(prompt, thread_id=thread)
    await rig.wait_for_event(handle, lambda e: e.kind == "progress")
    await rig.stop(handle)
    outcome = await rig.outcome(handle)

    assert outcome.status == "interrupted"
    messages = await rig.store.messages(thread)
    tools = {m["name"]: m for m in messages if m["type"] == "tool"}
    assert "Rollback runs" in tools["search_docs"]["content"]
    assert tools["generate_report"]["content"].startswith(STOPPED_WHILE_RUNNING)
    ai_calls = [tc["id"] for m in messages if m["type"] == "ai" for tc in m["tool_calls"]]
    assert sorted(ai_calls) == sorted(m["tool_call_id"] for m in tools.values())
    assert len(rig.model_calls(marker)) == 1


async def _notice_alone_after_10_tokens(
    rig: TurnRig, handle: WorkflowHandle[Any, Any], recorded: dict[str, str] | None = None
) -> None:
    """The broker's stop notice, with no cancel (yet): the call stops, its result recorded.
    `recorded`: the stop the API wrote in the run's record before it sent the notice."""
    await _nth_token(rig, handle, 10)
    thread_id, run_id = handle.id.split(":")[1:]
    if recorded is not None:
        run = await rig.stores.records.get_run(thread_id, run_id)
        assert run is not None
        await rig.stores.records.request_stop(run, recorded)
    await rig.stores.broker.publish_stop(run_id, b'{"action": "interrupt", "actor": "tester"}')
    await rig.wait_for_completions(handle, 1)


async def test_a_notice_ahead_of_its_cancel_waits_for_the_cancel_and_keeps_the_answer(
    rig: TurnRig, marker: str
) -> None:
    """The API sends the broker's notice together with Temporal's cancel, so the call can
    stop (and its result land in the history) before the cancel does: the turn waits for
    the cancel, and only then settles, as the stop it records."""
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[tokens=500][pace=20] {marker}", thread_id=thread)
    await _notice_alone_after_10_tokens(rig, handle)
    [call] = await rig.wait_model_calls_closed(marker)
    waiting = (await handle.describe()).status

    await rig.stop(handle, reason="the cancel, a little later")
    outcome = await rig.outcome(handle)

    assert waiting == WorkflowExecutionStatus.RUNNING  # the notice alone settled nothing
    assert call["disconnected"] is True and 10 <= call["tokens"] < 500
    assert outcome.status == "interrupted" and outcome.stop is not None
    assert outcome.stop.reason == "the cancel, a little later"
    answer = (await rig.store.messages(thread))[-1]
    assert answer["type"] == "ai" and answer["content"]
    assert answer["response_metadata"]["stopped"] is True
    assert len(rig.model_calls(marker)) == 1  # nothing started after the notice


async def test_a_notice_that_no_cancel_follows_fails_the_turn_instead_of_deciding_it(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[tokens=500][pace=20] {marker}", thread_id=thread)
    await _notice_alone_after_10_tokens(rig, handle)
    # Nothing streams any more: let the server skip the minute the turn waits for a cancel.
    outcome = await rig.outcome(handle, skip_time=True)

    assert outcome.status == "error" and outcome.stop is None
    assert outcome.error is not None and "no stop was recorded" in outcome.error
    assert len(rig.model_calls(marker)) == 1
    answer = (await rig.store.messages(thread))[-1]  # what the client saw is still kept
    assert answer["type"] == "ai" and answer["content"]
    assert answer["response_metadata"]["finish_reason"] == "error"


async def test_a_notice_whose_cancel_never_comes_adopts_the_stop_in_the_runs_record(
    rig: TurnRig, marker: str
) -> None:
    """The API records the stop, sends the notice, and dies before Temporal has the cancel:
    the turn takes the stop from the run's record and ends as that stop would have."""
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[tokens=500][pace=20] {marker}", thread_id=thread)
    stop = {"action": "interrupt", "actor": "alice", "reason": "the API died right after"}
    await _notice_alone_after_10_tokens(rig, handle, recorded=stop)
    outcome = await rig.outcome(handle, skip_time=True)  # skips the wait for a cancel

    assert outcome.status == "interrupted" and outcome.stop is not None
    assert (outcome.stop.actor, outcome.stop.reason) == ("alice", "the API died right after")
    assert len(rig.model_calls(marker)) == 1
    answer = (await rig.store.messages(thread))[-1]
    assert answer["type"] == "ai" and answer["content"]
    assert answer["response_metadata"]["stopped_by"] == "alice"
    names = history_activity_names([e async for e in handle.fetch_history_events()])
    assert names == ["begin_turn", "call_model", "recorded_stop", "finish_turn"]


async def test_a_rollback_adopted_from_the_record_undoes_the_turn(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[tokens=500][pace=20] {marker}", thread_id=thread)
    stop = {"action": "rollback", "actor": "alice", "reason": "undo"}
    await _notice_alone_after_10_tokens(rig, handle, recorded=stop)
    outcome = await rig.outcome(handle, skip_time=True)

    assert outcome.turn_status == "rolled_back" and outcome.stop is not None
    assert outcome.stop.actor == "alice"
    assert await rig.store.messages(thread) == []  # the turn's input went too


async def test_stop_before_first_model_call_never_calls_the_model(
    rig: TurnRig, marker: str
) -> None:
    # No worker polls this queue until the stop is in: the turn starts already stopped.
    idle_queue = rig.settings.model_copy(
        update={
            "temporal": rig.settings.temporal.model_copy(update={"task_queue": f"idle-{marker}"})
        }
    )
    late = TurnRig(rig.client, idle_queue, rig.stores, rig.tools, rig.model, rig.env)
    thread = str(uuid.uuid4())
    handle = await late.start(f"[tool=search_docs][tokens=5] {marker}", thread_id=thread)
    await late.stop(handle, reason="changed my mind")
    async with running_rig(rig.client, idle_queue, rig.model, rig.env) as worker_rig:
        outcome = await rig.outcome(handle)
        messages = await worker_rig.store.messages(thread)

    assert outcome.status == "interrupted"
    assert rig.model_calls(marker) == []
    assert worker_rig.tools.calls == {}
    assert [m["type"] for m in messages] == ["human"]  # no empty answer is kept
    assert outcome.stop is not None and outcome.stop.reason == "changed my mind"


async def test_stop_after_completion_is_refused_and_outcome_stays_completed(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[tokens=4] {marker}", thread_id=thread)
    outcome = await rig.outcome(handle)
    # The real server refuses this (the API answers 409 before asking); either way a stop
    # after the end changes nothing.
    with contextlib.suppress(RPCError):
        await rig.stop(handle)
    assert outcome.status == "success"
    assert (await rig.outcome(handle)) == outcome
    answer = (await rig.store.messages(thread))[-1]
    assert answer["response_metadata"].get("stopped") is None


async def test_plain_temporal_cancel_is_an_interrupt(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[tokens=500][pace=20] {marker}", thread_id=thread)
    await _nth_token(rig, handle, 3)
    await handle.cancel()  # what the Web UI's Request Cancellation sends
    outcome = await rig.outcome(handle)
    assert outcome.status == "interrupted" and outcome.stop is not None
    assert outcome.stop.action == "interrupt" and outcome.stop.actor == "temporal"
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.CANCELED  # listed as what it was
    status = description.typed_search_attributes.get(SearchAttributeKey.for_keyword(SA_TURN_STATUS))
    assert status == "stopped"


async def test_the_history_reads_like_the_turn_with_no_per_token_events(
    rig: TurnRig, marker: str
) -> None:
    """300 tokens and a stop: the history holds the calls and the stop, not the stream."""
    handle = await rig.start(f"[tokens=2000][pace=5] {marker}", thread_id=str(uuid.uuid4()))
    await _nth_token(rig, handle, 300)
    await rig.stop(handle, reason="long enough")
    await rig.outcome(handle)
    events = [e async for e in handle.fetch_history_events()]

    assert len(events) <= 40, [e.event_type for e in events]
    kinds = {e.WhichOneof("attributes") for e in events}
    assert not kinds & {
        "workflow_execution_signaled_event_attributes",
        "workflow_execution_update_accepted_event_attributes",
    }
    assert history_activity_names(events) == ["begin_turn", "call_model", "finish_turn"]
    # The Web UI's "current details": what happened, at a glance.
    metadata = await handle.query(
        "__temporal_workflow_metadata", result_type=temporalio.api.sdk.v1.WorkflowMetadata
    )
    assert metadata.current_details.startswith("stopped by tester: kept partial answer (")
