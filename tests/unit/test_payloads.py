"""core/payloads.py decodes the turn's contracts exactly as the SDK's default converter does,
only without re-evaluating each dataclass's annotations on every decode."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from core.contracts import (
    FinishInput,
    StopRequest,
    TurnInput,
    TurnLimits,
    TurnOutcome,
)
from core.live import OutboxEvent
from core.payloads import DATA_CONVERTER
from core.thread_contracts import RunRequest

STOP = StopRequest(action="rollback", actor="alice", reason="wrong question")
TURN = TurnInput(
    thread_id="t1",
    run_id="r1",
    assistant_id="agent",
    graph_id="agent",
    user_id="alice",
    input_messages=[{"type": "human", "content": "hi", "id": "m1"}],
    model_name="gpt-4o-mini",
    checkpoint_id="c1",
    limits=TurnLimits(max_model_calls=3),
    stream_modes=["debug"],
)
OUTCOME = TurnOutcome(
    status="interrupted",
    turn_status="stopped",
    stop=STOP,
    outcome="interrupted",
    kept=["m2"],
    messages=[{"type": "ai", "content": "par", "id": "m2"}],
)
CONTRACTS: list[Any] = [
    RunRequest(run_id="r1", turn=TURN, resume=True, resume_value={"decisions": []}),
    FinishInput(
        thread_id="t1",
        run_id="r1",
        outcome=OUTCOME,
        commit=None,
        checkpoint_id=None,
        outbox=[OutboxEvent(seq=1, kind="values", body={"messages": []})],
        end={"status": "interrupted"},
        record={},
        interrupts=[],
        reopen=False,
    ),
    OUTCOME,
]


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: type(c).__name__)
async def test_a_contract_decodes_as_the_sdk_decodes_it(contract: Any) -> None:
    payloads = await DataConverter.default.encode([contract])

    ours = (await DATA_CONVERTER.decode(payloads, [type(contract)]))[0]
    sdk = (await DataConverter.default.decode(payloads, [type(contract)]))[0]

    assert ours == sdk == contract  # a dataclass equals only its own class, nested too


def _json(text: str) -> list[Payload]:
    return [Payload(metadata={"encoding": b"json/plain"}, data=text.encode())]


async def test_unknown_keys_are_ignored_and_nested_types_are_built() -> None:
    payloads = _json(
        '{"action": "interrupt", "actor": "bob", "reason": "r", "added_in_a_later_version": 1}'
    )

    decoded = (await DATA_CONVERTER.decode(payloads, [StopRequest]))[0]

    assert decoded == StopRequest(action="interrupt", actor="bob", reason="r")


async def test_a_missing_required_field_fails_as_with_the_sdk() -> None:
    payloads = _json('{"run_id": "r1"}')  # no turn

    with pytest.raises(TypeError):
        await DataConverter.default.decode(payloads, [RunRequest])
    with pytest.raises(TypeError):
        await DATA_CONVERTER.decode(payloads, [RunRequest])
