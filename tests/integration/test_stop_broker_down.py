"""The Stop fast path decides nothing: with the broker frozen (connections open, nothing
answering, like a hung NATS), a Stop still reaches the running model call through Temporal's
own cancel on a heartbeat, slower, with the same outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client
from temporalio.testing import WorkflowEnvironment

from devstack.scripted_model.runner import RunningScriptedModel
from tests.fixtures.nats import NatsServer, settings_for
from tests.stack import running_stack
from tests.support import model_calls_closed

pytestmark = pytest.mark.integration

ANSWER_TOKENS = 1500  # 30 s at 20 ms: a stop that did not reach the model shows as a full answer


@pytest.mark.timeout(120)
async def test_a_stop_with_the_broker_frozen_still_stops_and_keeps_the_answer(
    dev_server: WorkflowEnvironment,
    scripted_model: RunningScriptedModel,
    private_nats_server: NatsServer,
    tmp_path: Path,
    marker: str,
) -> None:
    broker = settings_for(private_nats_server.url)
    async with running_stack(dev_server.client, scripted_model, tmp_path, broker) as stack:
        client: Any = get_client(url=stack.api_url)  # its stubs say cancel returns None
        thread = (await client.threads.create())["thread_id"]
        prompt = f"[tokens={ANSWER_TOKENS}][pace=20] {marker}"
        run_id, tokens = "", 0
        async for part in client.runs.stream(
            thread, "agent", input={"messages": [{"role": "user", "content": prompt}]},
            stream_mode=["messages-tuple"],
        ):  # fmt: skip
            run_id = part.data["run_id"] if part.event == "metadata" else run_id
            tokens += part.event == "messages"
            if tokens == 20:
                break

        async with private_nats_server.frozen():
            stopped: Any = await client.runs.cancel(thread, run_id, wait=True, action="interrupt")
            [call] = await model_calls_closed(scripted_model, marker)

        assert (stopped["status"], stopped["outcome"]["outcome"]) == ("interrupted", "interrupted")
        assert call["disconnected"] is True and 20 <= call["tokens"] < ANSWER_TOKENS, call
        state: Any = await client.threads.get_state(thread)
        kept = state["values"]["messages"][-1]
        assert kept["type"] == "ai" and kept["response_metadata"]["stopped"] is True
        assert kept["content"]
