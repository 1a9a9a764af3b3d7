"""An upgrade must not break conversations in flight: histories written by the previous
release still replay with today's workflow code.

tests/fixtures/histories/ holds histories recorded from the release before turns were
started as top-level workflows (their thread started each turn as a child workflow and
followed its result): a thread idle after two turns, a thread following a turn that waits
for approval, and those turns. A change that makes any of them non-deterministic fails
here instead of leaving users' threads stuck after `git pull`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.payloads import DATA_CONVERTER
from core.settings import Settings
from worker.assembly import workflow_runner
from workflows.thread import ThreadWorkflow
from workflows.turn import TurnWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"


@pytest.mark.parametrize(
    "name", ["thread_two_turns", "thread_turn_paused", "turn_completed", "turn_paused"]
)
async def test_histories_of_the_previous_release_replay(settings: Settings, name: str) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    replayer = Replayer(
        workflows=[ThreadWorkflow, TurnWorkflow],
        data_converter=DATA_CONVERTER,
        workflow_runner=workflow_runner(settings, DATA_CONVERTER),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
