"""The official Python `langgraph-sdk` against chatstop: every stream mode, with the Agent
Server's event names and shapes, and joining a resumable stream from its start."""

from __future__ import annotations

import pytest
from langgraph_sdk import schema

from tests.e2e.sdk_shapes import (
    TOOL_PROMPT,
    events_of,
    required_keys,
    sdk,
    stream_run,
    user,
)
from tests.stack import Stack

pytestmark = pytest.mark.e2e


async def test_stream_modes_values_and_updates(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await stream_run(client, thread, f"{TOOL_PROMPT} {marker}", ["values", "updates"])
    assert required_keys(schema.RunMetadataPayload) <= set(parts[0].data)

    values = events_of(parts, "values")
    assert [m["type"] for m in values[0]["messages"]] == ["human"]  # the input, first
    state = await client.threads.get_state(thread)
    assert values[-1]["messages"] == state["values"]["messages"]
    updates = events_of(parts, "updates")
    assert [list(u) for u in updates] == [["model"], ["tools"], ["model"]]
    assert updates[1]["tools"]["messages"][0]["name"] == "search_docs"
    assert updates[2]["model"]["messages"][0] == state["values"]["messages"][-1]


async def test_stream_mode_messages_tuple_streams_chunks_with_metadata(
    stack: Stack, marker: str
) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await stream_run(client, thread, f"{TOOL_PROMPT} {marker}", ["messages-tuple"])
    run_id = parts[0].data["run_id"]
    pairs = events_of(parts, "messages")
    assert pairs and all(isinstance(pair, list) and len(pair) == 2 for pair in pairs)
    chunks = [(chunk, meta) for chunk, meta in pairs if chunk["type"] == "AIMessageChunk"]
    for _, meta in chunks:
        assert {"langgraph_node", "langgraph_step", "ls_model_name"} <= set(meta), meta
        assert (meta["run_id"], meta["thread_id"], meta["langgraph_node"]) == (
            run_id, thread, "model")  # fmt: skip
    calls = [c for c, _ in chunks for piece in c["tool_call_chunks"] if piece["name"]]
    assert calls and calls[0]["tool_call_chunks"][0]["name"] == "search_docs"
    [(tool, tool_meta)] = [(c, m) for c, m in pairs if c["type"] == "tool"]
    assert tool["name"] == "search_docs" and tool_meta["langgraph_node"] == "tools"

    answer = (await client.threads.get_state(thread))["values"]["messages"][-1]
    streamed = "".join(c["content"] for c, _ in chunks if c["id"] == answer["id"])
    assert streamed == answer["content"]


async def test_stream_mode_messages_legacy_completes_each_message_once(
    stack: Stack, marker: str
) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await stream_run(client, thread, f"{TOOL_PROMPT} {marker}", ["messages"])
    saved = (await client.threads.get_state(thread))["values"]["messages"][1:]
    kinds = [p.event for p in parts if p.event.startswith("messages")]
    assert set(kinds) == {"messages/metadata", "messages/partial", "messages/complete"}
    announced = [next(iter(d)) for d in events_of(parts, "messages/metadata")]
    assert announced == [m["id"] for m in saved]  # each message announced, in order
    assert all("langgraph_node" in d[announced[0]]["metadata"]
               for d in events_of(parts, "messages/metadata")[:1])  # fmt: skip
    partials = {d[0]["id"]: d[0] for d in events_of(parts, "messages/partial")}  # the last of each
    completes = [d[0] for d in events_of(parts, "messages/complete")]
    # As the Agent Server: streamed (AI) messages end as their last partial, whole ones
    # (the tool result) arrive once as complete.
    for message in saved:
        shown = partials.get(message["id"]) if message["type"] == "ai" else None
        if shown is None:
            shown = next(m for m in completes if m["id"] == message["id"])
        assert shown["content"] == message["content"]
    assert [m["id"] for m in completes] == [m["id"] for m in saved if m["type"] == "tool"]


async def test_stream_mode_custom_carries_what_the_tool_writes(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    prompt = f'[tool=generate_report {{"topic": "q3", "seconds": 2}}][tokens=2] {marker}'
    parts = await stream_run(client, thread, prompt, ["custom"])
    assert {p.event for p in parts} == {"metadata", "custom", "end"}
    custom = events_of(parts, "custom")
    assert [c["progress"] for c in custom] == ["q3: section 1/2 written", "q3: section 2/2 written"]
    assert all(c["name"] == "generate_report" for c in custom)


async def test_stream_mode_events_brackets_model_and_tool_runs(stack: Stack, marker: str) -> None:
    """astream_events v2: each model and tool run starts, (streams,) and ends; the stream
    still ends with chatstop's `end`."""
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    stream = client.runs.stream(thread, "agent", input=user(f"{TOOL_PROMPT} {marker}"),
                                stream_mode=["events"])  # fmt: skip
    parts = [part async for part in stream]
    events = events_of(parts, "events")
    keys = {"event", "name", "run_id", "tags", "metadata", "data", "parent_ids"}
    assert events and all(keys <= set(e) for e in events)
    streamed = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert streamed and streamed[0]["data"]["chunk"]["type"] == "AIMessageChunk"
    assert streamed[0]["metadata"]["langgraph_node"] == "model"
    assert [e["name"] for e in events if e["event"] == "on_tool_end"] == ["search_docs"]
    assert [p.event for p in parts][-2:] == ["events", "end"], "`end` is the last event"
    names = {e["event"] for e in events}
    expected = {"on_chat_model_start", "on_chat_model_stream", "on_chat_model_end",
                "on_tool_start", "on_tool_end"}  # fmt: skip
    assert expected <= names, f"missing {sorted(expected - names)}"


async def test_stream_mode_tasks_reports_each_node_start_and_result(
    stack: Stack, marker: str
) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await stream_run(client, thread, f"{TOOL_PROMPT} {marker}", ["tasks"])
    tasks = events_of(parts, "tasks")
    starts = [t for t in tasks if "triggers" in t]
    results = [t for t in tasks if "result" in t]
    assert all(required_keys(schema.TaskPayload) <= set(t) for t in starts)
    assert all(required_keys(schema.TaskResultPayload) <= set(t) for t in results)
    assert (
        [t["name"] for t in starts] == [t["name"] for t in results] == ["model", "tools", "model"]
    )
    assert [t["id"] for t in starts] == [t["id"] for t in results]
    assert all(t["error"] is None and t["interrupts"] == [] for t in results)
    assert results[1]["result"]["messages"][0]["name"] == "search_docs"


async def test_stream_modes_checkpoints_and_debug_name_the_thread(
    stack: Stack, marker: str
) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await stream_run(client, thread, f"{TOOL_PROMPT} {marker}", ["checkpoints", "debug"])
    checkpoints = events_of(parts, "checkpoints")
    assert all(required_keys(schema.CheckpointPayload) <= set(c) for c in checkpoints)
    assert [c["next"] for c in checkpoints][-4:] == [["model"], ["tools"], ["model"], []]
    for earlier, later in zip(checkpoints, checkpoints[1:], strict=False):
        assert later["parent_config"] == earlier["config"]
    debug = events_of(parts, "debug")
    assert {d["type"] for d in debug} == {"checkpoint", "task", "task_result"}
    assert all({"step", "timestamp", "type", "payload"} <= set(d) for d in debug)
    configs = [c["config"]["configurable"] for c in checkpoints] + [
        d["payload"]["config"]["configurable"] for d in debug if d["type"] == "checkpoint"
    ]
    assert {c["thread_id"] for c in configs} == {thread}, "checkpoints name the run's thread"


async def test_join_stream_from_minus_one_replays_a_resumable_run(
    stack: Stack, marker: str
) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread, "agent", input=user(f"[tokens=20][pace=5] {marker}"),
                                   stream_mode=["values", "messages-tuple"],
                                   stream_resumable=True)  # fmt: skip
    replay = [p async for p in client.runs.join_stream(thread, run["run_id"], last_event_id="-1")]
    assert replay[0].event == "metadata" and replay[0].data["run_id"] == run["run_id"]
    assert replay[-1].event == "end" and len(events_of(replay, "messages")) >= 20
    ids = [int(p.id) for p in replay]
    assert ids == sorted(set(ids)), "every event has its own, increasing id"

    middle = replay[len(replay) // 2]
    resumed = client.runs.join_stream(thread, run["run_id"], last_event_id=middle.id)
    rest = [(p.event, p.id) async for p in resumed]
    assert rest == [(p.event, p.id) for p in replay[len(replay) // 2 + 1 :]]
