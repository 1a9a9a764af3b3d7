"""The official LangGraph JS client against the live API: tests/js/sdk_conformance.mjs makes
the calls agent-chat-ui and useStream make and checks their shapes; each test runs one of its
checks and asserts on the summary it prints.

Runs against chatstop by default, against LangGraph's Agent Server with
`--against-agent-server` (see conftest_js.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.js_support import JS_DIR, ended_model_call, run_node

pytestmark = [pytest.mark.e2e, pytest.mark.agent_protocol]

SCRIPT = JS_DIR / "sdk_conformance.mjs"


async def conformance(node: str, check: str, env: dict[str, str]) -> dict[str, Any]:
    """The details of one check, failing with the script's own message if it failed."""
    done = await run_node(node, SCRIPT, check, env=env)
    summary = done.summary()
    result = dict(summary["checks"][check])
    assert result["ok"], f"{check}: {result.get('error')}"
    assert done.returncode == 0, done.stderr
    return result


async def test_info_answers_like_the_agent_server(node: str, js_env: dict[str, str]) -> None:
    result = await conformance(node, "info", js_env)
    assert result["status"] == 200
    assert {"version", "flags"} <= set(result["keys"])


async def test_stream_sends_metadata_then_message_chunks_then_values(
    node: str, js_env: dict[str, str]
) -> None:
    result = await conformance(node, "stream", js_env)
    assert result["events"][0] == "metadata"
    assert {"messages", "values", "updates"} <= set(result["events"])
    assert result["streamed_words"] == 12 and result["final_types"] == ["human", "ai"]
    assert result["chunk_ids_match_final"], "chunks and the final AI message differ in id"
    assert result["chunk_nodes"] == ["model"] and "model" in result["update_nodes"]
    # useStream takes the run id from the Content-Location header of the stream response.
    assert result["run_created"] is not None, "no Content-Location: /threads/{t}/runs/{r}"
    assert result["run_created"]["run_id"] == result["run_id"]


async def test_cancel_with_wait_interrupts_the_run_and_closes_the_model_stream(
    node: str, js_env: dict[str, str], scripted_model: Any, marker: str
) -> None:
    result = await conformance(node, "cancel", js_env)
    assert result["run_status"] == "interrupted"
    assert result["tokens_streamed"] < 400
    call = await ended_model_call(scripted_model, f"cancel {marker}")
    assert call["disconnected"] is True, "the model stream ran on after the cancel"
    assert call["tokens"] < 400


async def test_history_lists_checkpoints_newest_first_as_a_chain(
    node: str, js_env: dict[str, str]
) -> None:
    result = await conformance(node, "history", js_env)
    assert result["message_counts"][0] == 4
    assert result["head_types"] == ["human", "ai", "human", "ai"]
    assert {"values", "checkpoint", "parent_checkpoint", "next", "metadata"} <= set(
        result["state_keys"]
    )
    assert {"checkpoint_id", "checkpoint_ns"} <= set(result["checkpoint_keys"])


async def test_join_stream_from_last_event_id_minus_one_replays_a_finished_run(
    node: str, js_env: dict[str, str]
) -> None:
    result = await conformance(node, "join_from_start", js_env)
    assert result["replayed"] == result["streamed"] > 0
    assert result["resumed_after_id"] == result["streamed"] - result["resumed_after_index"] - 1


async def test_runs_tag_the_thread_so_search_by_graph_id_finds_it(
    node: str, js_env: dict[str, str]
) -> None:
    result = await conformance(node, "search_by_graph_id", js_env)
    assert result["metadata"]["graph_id"] == "agent"
    assert isinstance(result["metadata"]["assistant_id"], str)
    assert result["position"] == 0, "the newest thread should come first"
