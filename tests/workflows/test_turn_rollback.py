"""Rollback: compensators run newest first as durable activities, the stop cannot cancel
them, and the thread returns exactly to its pre-turn checkpoint."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from agents.demo_tools import count_tickets
from tests.agents_for_tests import undo_lines
from tests.fixtures.eventually import eventually
from tests.support import TurnRig, history_activity_names

UNDO_AGENT = "tests.agents_for_tests:undo_agent"


def _tool(name: str, **args: object) -> str:
    return f"[tool={name} {json.dumps(args)}]"


def _data_dir(rig: TurnRig) -> Path:
    return rig.settings.data_path(rig.settings.store.sqlite_path).parent


async def test_rollback_undoes_side_effects_in_reverse_order(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    before = await rig.start(f"[tokens=3] earlier {marker}", thread_id=thread)
    await rig.outcome(before)
    checkpoint = await rig.store.messages(thread)

    prompt = (
        f"{_tool('record_step', label='a')}{_tool('record_step', label='b')}"
        f"{_tool('wait_a_while', seconds=60)} {marker}"
    )
    handle = await rig.start(prompt, thread_id=thread, graph=UNDO_AGENT)
    data_dir = _data_dir(rig)
    await eventually(lambda: rig.tools.calls["wait_a_while"] == 1, within=10, what="tool runs")
    await rig.wait_for_completions(handle, 3)  # model, a, b (loading is a local activity)
    await rig.stop(handle, action="rollback", reason="undo it all")
    outcome = await rig.outcome(handle)

    assert outcome.status == "interrupted" and outcome.outcome == "rolled_back"
    assert outcome.turn_status == "rolled_back"
    lines = undo_lines(data_dir)
    assert sorted(lines[:2]) == ["do a", "do b"]  # parallel calls: either may run first
    assert lines[2:] == ["undo b", "undo a"]  # undone newest-scheduled first
    assert [u.split(":")[0] for u in outcome.undone] == [
        f"record_step ({c})" for c in _call_ids(outcome.undone)
    ]
    assert await rig.store.messages(thread) == checkpoint
    names = history_activity_names([e async for e in handle.fetch_history_events()])
    assert names.count("compensate_tool") == 2 and names[-3:] == [
        "compensate_tool",
        "compensate_tool",
        "finish_turn",
    ]


def _call_ids(undone: list[str]) -> list[str]:
    return [u.split("(")[1].split(")")[0] for u in undone]


async def test_rollback_compensates_a_tool_that_was_in_flight(rig: TurnRig, marker: str) -> None:
    thread = str(uuid.uuid4())
    prompt = (
        f"{_tool('create_ticket', title='printer on fire')}"
        f"{_tool('generate_report', topic='x', seconds=30)} {marker}"
    )
    handle = await rig.start(prompt, thread_id=thread)
    await rig.wait_for_event(handle, lambda e: e.kind == "progress")
    assert count_tickets(_data_dir(rig)) == 1
    await rig.stop(handle, action="rollback")
    outcome = await rig.outcome(handle)

    assert outcome.outcome == "rolled_back"
    assert count_tickets(_data_dir(rig)) == 0
    assert len(outcome.undone) == 1 and "deleted ticket 'printer on fire'" in outcome.undone[0]
    assert await rig.store.messages(thread) == []
    assert len(rig.model_calls(marker)) == 1


async def test_a_stop_notice_during_compensation_does_not_interrupt_it(
    rig: TurnRig, marker: str
) -> None:
    """Temporal keeps only a turn's first cancel, so a second stop can reach a rollback only
    through the broker's stop notice (what the API sends after every stop): compensations
    must not listen to it. Without that, the compensation would be cut and run twice."""
    thread = str(uuid.uuid4())
    prompt = f"{_tool('record_slow_undo', label='s')}{_tool('wait_a_while', seconds=60)} {marker}"
    handle = await rig.start(prompt, thread_id=thread, graph=UNDO_AGENT)
    await eventually(lambda: rig.tools.calls["wait_a_while"] == 1, within=10, what="tool runs")
    await rig.wait_for_completions(handle, 2)  # model, record_slow_undo
    await rig.stop(handle, action="rollback")
    await eventually(
        lambda: rig.tools.compensations["record_slow_undo"] == 1, within=10, what="undo runs"
    )
    run_id = handle.id.rsplit(":", 1)[1]
    await rig.stores.broker.publish_stop(run_id, b'{"action": "interrupt"}')
    outcome = await rig.outcome(handle)

    assert outcome.outcome == "rolled_back"
    assert outcome.stop is not None and outcome.stop.action == "rollback"
    assert undo_lines(_data_dir(rig)) == ["do s", "undo s"]
    assert rig.tools.compensations["record_slow_undo"] == 1  # ran once, to the end
    assert await rig.store.messages(thread) == []


async def test_failing_compensation_ends_in_error_naming_what_was_not_undone(
    rig: TurnRig, marker: str
) -> None:
    thread = str(uuid.uuid4())
    prompt = (
        f"{_tool('record_step', label='ok')}{_tool('record_unrecoverable', label='bad')}"
        f"{_tool('wait_a_while', seconds=60)} {marker}"
    )
    handle = await rig.start(prompt, thread_id=thread, graph=UNDO_AGENT)
    await eventually(lambda: rig.tools.calls["wait_a_while"] == 1, within=10, what="tool runs")
    await rig.wait_for_completions(handle, 3)  # model, ok, bad
    await rig.stop(handle, action="rollback")
    await eventually(
        lambda: rig.tools.compensations["record_unrecoverable"] >= 1, within=10, what="undo"
    )
    # Nothing streams any more: let the server skip the compensation's retry backoffs.
    outcome = await rig.outcome(handle, skip_time=True)

    assert outcome.status == "error" and outcome.outcome == "rollback_failed"
    assert outcome.turn_status == "error"
    assert len(outcome.not_undone) == 1
    assert "record_unrecoverable" in outcome.not_undone[0]
    assert "refused bad" in outcome.not_undone[0]
    assert outcome.error and "could not undo" in outcome.error
    assert "undo ok" in undo_lines(_data_dir(rig))  # the others were still undone
    assert rig.tools.compensations["record_unrecoverable"] == 5  # retried, then reported
