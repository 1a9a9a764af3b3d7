"""Faults inside a turn: a model stream that stalls, and tools that ignore a stop."""

from __future__ import annotations

import asyncio
import json
import uuid

from tests.agents_for_tests import RELEASE_STUBBORN, undo_lines
from tests.fixtures.eventually import eventually
from tests.support import TurnRig, running_rig

UNDO_AGENT = "tests.agents_for_tests:undo_agent"


def _tool(name: str, **args: object) -> str:
    return f"[tool={name} {json.dumps(args)}]"


async def test_a_stalled_model_stream_fails_as_stalled_not_unreachable(
    rig: TurnRig, marker: str
) -> None:
    impatient = rig.settings.model_copy(
        update={
            "model": rig.settings.model.model_copy(update={"stream_idle_timeout_seconds": 1}),
            "temporal": rig.settings.temporal.model_copy(update={"task_queue": f"st-{marker}"}),
        }
    )
    async with running_rig(rig.client, impatient, rig.model, rig.env) as stalled:
        handle = await stalled.start(f"[stall=3][tokens=10] {marker}", thread_id=str(uuid.uuid4()))
        outcome = await stalled.outcome(handle)
    assert outcome.status == "error"
    assert outcome.error == "model stream stalled: no data for 1 s"
    calls = await rig.wait_model_calls_closed(marker)
    assert len(calls) == rig.settings.model.max_attempts  # a stall is retried, then reported
    assert all(c["disconnected"] and c["tokens"] == 3 for c in calls)


async def test_tools_that_ignore_a_stop_do_not_starve_the_rollback(
    rig: TurnRig, marker: str
) -> None:
    """Both tool threads stay stuck in tools that ignore Stop; the compensation of the one
    that finished still runs at once, on the threads kept for compensations."""
    narrow = rig.settings.model_copy(
        update={
            "tools": rig.settings.tools.model_copy(
                update={"max_threads": 2, "stop_grace_seconds": 1}
            ),
            "temporal": rig.settings.temporal.model_copy(update={"task_queue": f"nt-{marker}"}),
        }
    )
    async with running_rig(rig.client, narrow, rig.model, rig.env) as stuck:
        RELEASE_STUBBORN.clear()
        prompt = (
            f"{_tool('record_step', label='r')}{_tool('stubborn', seconds=90)}"
            f"{_tool('stubborn', seconds=90)} {marker}"
        )
        handle = await stuck.start(prompt, thread_id=str(uuid.uuid4()), graph=UNDO_AGENT)
        await eventually(lambda: stuck.tools.calls["stubborn"] == 2, within=20, what="both stuck")
        data_dir = rig.settings.data_path(rig.settings.store.sqlite_path).parent
        if "do r" in undo_lines(data_dir):
            # It ran before the stuck tools took both threads: stop only once its completion
            # is in the history (see wait_for_completions: the test server's limitation).
            await stuck.wait_for_completions(handle, 2)
        await stuck.stop(handle, action="rollback")
        # Far less than the 90 s the stuck tools hold their threads for.
        outcome = await asyncio.wait_for(stuck.outcome(handle), 30)
        RELEASE_STUBBORN.set()
    assert outcome.outcome == "rolled_back", outcome
    # record_step may never have started (the stuck tools can hold both threads first); its
    # compensation runs either way, being idempotent, and it runs last.
    assert undo_lines(data_dir)[-1] == "undo r"
