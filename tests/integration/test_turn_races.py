"""Stop racing completion on the real dev server: whatever the timing, exactly one terminal
state, told the same way by the workflow result, the end event and the thread."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from temporalio.service import RPCError

from tests.support import TurnRig

pytestmark = pytest.mark.integration


async def test_stop_racing_completion_has_exactly_one_outcome(
    dev_rig: TurnRig, marker: str
) -> None:
    rig = dev_rig
    outcomes = set()
    for after_events in range(0, 26):  # up to past the end: both sides of the race
        thread = str(uuid.uuid4())
        handle = await rig.start(
            f"[tokens=4][pace=5] race {after_events} {marker}", thread_id=thread
        )
        seen = 0
        async for _ in rig.events(handle):
            seen += 1
            if seen > after_events // 2:
                break
        # If the run had already closed the cancel is refused: then it completed.
        with contextlib.suppress(RPCError):
            await rig.stop(handle)
        outcome = await rig.outcome(handle)
        outcomes.add(outcome.status)
        end = [e async for e in rig.events(handle)][-1]
        assert end.kind == "end" and end.data["status"] == outcome.status
        assert outcome.status in ("success", "interrupted")
        answer = (await rig.store.messages(thread))[-1]
        assert answer["type"] == "ai"
        stopped = answer["response_metadata"].get("stopped") is True
        assert stopped == (outcome.status == "interrupted"), (outcome, answer, after_events)
        if outcome.status == "success":
            assert len(answer["content"].split()) == 4
    assert outcomes == {"success", "interrupted"}  # both sides of the race were exercised
