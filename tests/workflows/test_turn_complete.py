"""A turn that runs to the end: streaming, tool calls as activities, thread state."""

from __future__ import annotations

import json
import uuid

from devstack.isolated import free_port
from tests.support import LiveEvent, TurnRig, history_activity_names, running_rig, token_texts


def _tool(name: str, **args: object) -> str:
    return f"[tool={name} {json.dumps(args)}]"


async def test_turn_streams_tokens_runs_tool_and_commits_thread(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(
        f"{_tool('search_docs', query='stop')}[tokens=40] {marker}", thread_id=thread
    )
    events: list[LiveEvent] = [e async for e in rig.events(handle)]
    outcome = await rig.outcome(handle)

    assert outcome.status == "success" and outcome.outcome == "completed", outcome.error
    kinds = [e.kind for e in events]
    assert len(token_texts(events)) == 40, kinds
    assert kinds[-1] == "end"
    # Every event in its true order: each step's update after the tokens of its message.
    last_token = max(i for i, e in enumerate(events) if e.kind == "messages")
    final_update = max(i for i, e in enumerate(events) if e.kind == "updates")
    assert last_token < final_update < len(events) - 1
    updates = [e.data for e in events if e.kind == "updates"]
    assert [next(iter(u)) for u in updates] == ["model", "tools", "model"]
    messages = await rig.store.messages(thread)
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1]["tool_calls"][0]["name"] == "search_docs"
    assert messages[2]["content"].startswith("- ")
    assert "Using 1 tool results" in messages[3]["content"]
    assert messages[3]["response_metadata"].get("stopped") is None
    history = [e async for e in handle.fetch_history_events()]
    names = history_activity_names(history)
    assert names == ["begin_turn", "call_model", "run_tool", "call_model", "finish_turn"]


async def test_second_turn_sees_first_turn_messages(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    first = await rig.start(f"[tokens=5] first {marker}", thread_id=thread)
    await rig.outcome(first)
    second = await rig.start(f"[tokens=5] second {marker}", thread_id=thread)
    await rig.outcome(second)

    calls = rig.model_calls(marker)
    assert len(calls) == 2
    sent = [(m["role"], m["content"]) for m in calls[1]["messages"] if m["role"] != "system"]
    assert sent[0] == ("user", f"[tokens=5] first {marker}")
    assert sent[1][0] == "assistant" and sent[1][1]
    assert sent[2] == ("user", f"[tokens=5] second {marker}")
    assert len(await rig.store.messages(thread)) == 4


async def test_model_error_ends_run_in_error_naming_the_cause(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[fail=500] {marker}", thread_id=thread)
    events = [e async for e in rig.events(handle)]
    outcome = await rig.outcome(handle, skip_time=True)  # no stream: skip the retry backoff

    assert outcome.status == "error" and outcome.turn_status == "error"
    assert "HTTP 500" in (outcome.error or "")
    errors = [e for e in events if e.kind == "error"]
    assert errors and "HTTP 500" in errors[0].data["message"]
    assert len(rig.model_calls(marker)) == rig.settings.model.max_attempts  # Temporal retried
    # Nothing empty is kept: the next turn must not send an empty AI message to the model.
    assert [m["type"] for m in await rig.store.messages(thread)] == ["human"]

    follow_up = await rig.start(f"[tokens=3] again {marker}", thread_id=thread)
    assert (await rig.outcome(follow_up)).status == "success"


async def test_model_endpoint_down_ends_run_in_error_naming_it(rig: TurnRig, marker: str) -> None:
    down = rig.settings.model_copy(
        update={
            "model": rig.settings.model.model_copy(
                update={"base_url": f"http://127.0.0.1:{free_port()}/v1"}
            ),
            "temporal": rig.settings.temporal.model_copy(update={"task_queue": f"down-{marker}"}),
        }
    )
    async with running_rig(rig.client, down, rig.model, rig.env) as offline:
        handle = await offline.start(f"[tokens=3] {marker}", thread_id=str(uuid.uuid4()))
        outcome = await offline.outcome(handle, skip_time=True)  # nothing streams
    assert outcome.status == "error"
    assert outcome.error and "model endpoint unreachable at http://127.0.0.1:" in outcome.error


async def test_rejected_request_is_not_retried(rig: TurnRig, marker: str) -> None:
    handle = await rig.start(f"[fail=400] {marker}", thread_id=str(uuid.uuid4()))
    outcome = await rig.outcome(handle)
    assert outcome.status == "error" and "HTTP 400" in (outcome.error or "")
    assert len(rig.model_calls(marker)) == 1


async def test_retried_model_attempt_announces_a_reset_first(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    handle = await rig.start(f"[cut_once=5][tokens=12] {marker}", thread_id=thread)
    events = [e async for e in rig.events(handle)]
    outcome = await rig.outcome(handle)

    assert outcome.status == "success"
    reset = next(e for e in events if e.kind == "reset")
    at = events.index(reset)
    assert len(token_texts(events[:at])) == 5 and len(token_texts(events[at:])) == 12
    assert reset.data["attempt"] == 2
    after_reset = token_texts(events[at:])
    answer = (await rig.store.messages(thread))[-1]
    assert "".join(after_reset) == answer["content"]  # never glued to the broken attempt
    assert [c["tokens"] for c in rig.model_calls(marker)] == [5, 12]
