"""The official Python `langgraph-sdk` against chatstop, one test per area, asserting the
Agent Server's shapes: keys (langgraph_sdk.schema's TypedDicts are the reference), event
names and statuses. chatstop's own additions (the `end` SSE event, a run's `outcome`) are
expected and not checked here."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, schema
from langgraph_sdk.errors import ConflictError, NotFoundError

from tests.fixtures.eventually import eventually
from tests.stack import Stack

pytestmark = pytest.mark.e2e

CHECKPOINT_KEYS = {"thread_id", "checkpoint_ns", "checkpoint_id"}
TOOL_PROMPT = '[tool=search_docs {"query": "stop"}][tokens=3]'


def _sdk(stack: Stack) -> Any:
    """The official client, typed Any: its stubs say `runs.cancel` returns None and the
    TypedDicts forbid the reads these tests make on purpose."""
    return get_client(url=stack.api_url)


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _keys(typed_dict: Any) -> frozenset[str]:
    """A TypedDict's required keys (schema.py's postponed annotations hide NotRequired from
    `__required_keys__`, so it is read from the annotation's text)."""
    hints = {
        k: getattr(v, "__forward_arg__", str(v)) for k, v in typed_dict.__annotations__.items()
    }
    return frozenset(k for k, text in hints.items() if not text.startswith("NotRequired"))


def _refusal(error: httpx.HTTPStatusError) -> tuple[int, str]:
    """Status and detail of a refused call (runs.wait raises plain httpx errors)."""
    return error.response.status_code, error.response.json()["detail"]


async def _stream(client: Any, thread: str | None, prompt: str, modes: list[str]) -> list[Any]:
    stream = client.runs.stream(thread, "agent", input=_user(prompt), stream_mode=modes)
    parts = [part async for part in stream]
    assert parts[0].event == "metadata" and parts[-1].event == "end", parts[-1]
    assert parts[-1].data["status"] == "success", parts[-1].data
    return parts


def _of(parts: list[Any], event: str) -> list[Any]:
    return [part.data for part in parts if part.event == event]


async def _streaming_run(stack: Stack, client: Any, thread: str, marker: str) -> str:
    """A long background answer, once the model has streamed some of it."""
    prompt = f"[tokens=3000][pace=10] {marker}"
    run = await client.runs.create(thread, "agent", input=_user(prompt))
    await eventually(lambda: any(c["tokens"] >= 10 for c in stack.model_calls(marker)),
                     within=30, what="the model is streaming")  # fmt: skip
    return str(run["run_id"])


async def test_threads_create_get_update_search_copy_and_delete(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    made = [await client.threads.create(metadata={"marker": marker, "i": i}) for i in range(3)]
    assert _keys(schema.Thread) <= set(made[0]), made[0]
    assert made[0]["status"] == "idle" and made[0]["metadata"] == {"marker": marker, "i": 0}
    ids = [t["thread_id"] for t in made]
    assert await client.threads.get(ids[0]) == made[0]

    own_id = str(uuid.uuid4())
    mine = await client.threads.create(thread_id=own_id, metadata={"marker": f"{marker}-own"})
    assert mine["thread_id"] == own_id
    kept = await client.threads.create(thread_id=own_id, if_exists="do_nothing", metadata={"x": 1})
    assert kept["metadata"] == {"marker": f"{marker}-own"}
    with pytest.raises(ConflictError) as taken:
        await client.threads.create(thread_id=own_id)
    assert taken.value.status_code == 409 and own_id in str(taken.value.body)

    patched = await client.threads.update(ids[0], metadata={"i": 10, "extra": "yes"})
    assert patched["metadata"] == {"marker": marker, "i": 10, "extra": "yes"}

    def found(threads: list[Any]) -> list[str]:
        return [t["thread_id"] for t in threads]

    by_meta = await client.threads.search(metadata={"marker": marker}, sort_by="created_at",
                                          sort_order="asc")  # fmt: skip
    assert found(by_meta) == ids and _keys(schema.Thread) <= set(by_meta[0])
    newest_first = await client.threads.search(metadata={"marker": marker}, sort_order="desc")
    assert found(newest_first) == ids[::-1]
    page = await client.threads.search(metadata={"marker": marker}, sort_by="created_at",
                                       sort_order="asc", limit=1, offset=1)  # fmt: skip
    assert found(page) == [ids[1]]
    assert set(found(await client.threads.search(ids=[ids[0], ids[2]]))) == {ids[0], ids[2]}
    assert len(await client.threads.search(metadata={"marker": marker}, status="idle")) == 3
    assert await client.threads.search(metadata={"marker": marker}, status="busy") == []

    await client.runs.wait(ids[1], "agent", input=_user(f"[tokens=2] {marker}"))
    original = await client.threads.get(ids[1])
    copy = await client.threads.copy(ids[1])
    assert copy["thread_id"] not in ids and _keys(schema.Thread) <= set(copy)
    assert copy["values"] == original["values"] and len(copy["values"]["messages"]) == 2
    assert copy["metadata"] == original["metadata"]

    assert await client.threads.delete(ids[2]) is None
    with pytest.raises(NotFoundError) as gone:
        await client.threads.get(ids[2])
    assert gone.value.status_code == 404 and ids[2] in str(gone.value.body)


async def test_state_history_and_update_state_link_checkpoints(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    for word in ("one", "two"):
        await client.runs.wait(thread, "agent", input=_user(f"[tokens=2] {word} {marker}"))

    state = await client.threads.get_state(thread)
    assert _keys(schema.ThreadState) | {"checkpoint_id", "parent_checkpoint_id"} <= set(state)
    assert (
        set(state["checkpoint"]) == CHECKPOINT_KEYS and state["checkpoint"]["thread_id"] == thread
    )
    assert state["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert state["parent_checkpoint_id"] == state["parent_checkpoint"]["checkpoint_id"]
    assert (state["next"], state["tasks"], state["interrupts"]) == ([], [], [])
    assert isinstance(state["metadata"], dict) and isinstance(state["created_at"], str)
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai", "human", "ai"]

    history = await client.threads.get_history(thread)
    assert [len(s["values"]["messages"]) for s in history] == [4, 2]  # newest first
    assert history[0]["checkpoint"] == state["checkpoint"]
    assert history[0]["parent_checkpoint"] == history[1]["checkpoint"]
    assert history[1]["parent_checkpoint"] is None
    assert await client.threads.get_history(thread, limit=1) == history[:1]
    older = await client.threads.get_history(thread, before=history[0]["checkpoint"])
    assert [s["checkpoint"] for s in older] == [history[1]["checkpoint"]]

    first_id = history[1]["checkpoint"]["checkpoint_id"]
    at_first = await client.threads.get_state(thread, checkpoint_id=first_id)
    assert at_first["checkpoint"] == history[1]["checkpoint"]
    assert [m["content"] for m in at_first["values"]["messages"]][0] == f"[tokens=2] one {marker}"

    note = {"type": "human", "content": f"a note {marker}", "id": f"note-{marker}"}
    written = await client.threads.update_state(thread, {"messages": [note]})
    assert set(written) == {"checkpoint"} and set(written["checkpoint"]) == CHECKPOINT_KEYS
    updated = await client.threads.get_state(thread)
    assert updated["checkpoint"] == written["checkpoint"]
    assert updated["parent_checkpoint"] == state["checkpoint"]
    assert updated["values"]["messages"][-1]["content"] == f"a note {marker}"


async def test_thread_metadata_names_the_graph_once_a_run_is_created(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create(metadata={"marker": marker}))["thread_id"]
    run = await client.runs.create(thread, "agent", input=_user(f"[tokens=2] {marker}"))
    assert _keys(schema.Run) <= set(run) and run["status"] in ("pending", "running")
    assert (run["thread_id"], run["assistant_id"]) == (thread, "agent")
    metadata = (await client.threads.get(thread))["metadata"]
    assert metadata == {"marker": marker, "graph_id": "agent", "assistant_id": "agent"}
    await client.runs.join(thread, run["run_id"])


async def test_background_runs_join_get_list_and_delete(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    runs = []
    for word in ("one", "two"):
        run = await client.runs.create(thread, "agent", input=_user(f"[tokens=2] {word} {marker}"))
        joined = await client.runs.join(thread, run["run_id"])
        assert [m["type"] for m in joined["messages"]][-2:] == ["human", "ai"]
        runs.append(run["run_id"])

    got = await client.runs.get(thread, runs[0])
    assert _keys(schema.Run) <= set(got) and got["status"] == "success"
    listed = await client.runs.list(thread)
    assert [r["run_id"] for r in listed] == runs[::-1]  # newest first
    assert [r["run_id"] for r in await client.runs.list(thread, limit=1, offset=1)] == runs[:1]
    assert len(await client.runs.list(thread, status="success")) == 2
    assert await client.runs.list(thread, status="error") == []

    assert await client.runs.delete(thread, runs[0]) is None
    with pytest.raises(NotFoundError) as gone:
        await client.runs.get(thread, runs[0])
    assert gone.value.status_code == 404 and runs[0] in str(gone.value.body)
    assert [r["run_id"] for r in await client.runs.list(thread)] == runs[1:]


async def test_stream_modes_values_and_updates(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await _stream(client, thread, f"{TOOL_PROMPT} {marker}", ["values", "updates"])
    assert _keys(schema.RunMetadataPayload) <= set(parts[0].data)

    values = _of(parts, "values")
    assert [m["type"] for m in values[0]["messages"]] == ["human"]  # the input, first
    state = await client.threads.get_state(thread)
    assert values[-1]["messages"] == state["values"]["messages"]
    updates = _of(parts, "updates")
    assert [list(u) for u in updates] == [["model"], ["tools"], ["model"]]
    assert updates[1]["tools"]["messages"][0]["name"] == "search_docs"
    assert updates[2]["model"]["messages"][0] == state["values"]["messages"][-1]


async def test_stream_mode_messages_tuple_streams_chunks_with_metadata(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await _stream(client, thread, f"{TOOL_PROMPT} {marker}", ["messages-tuple"])
    run_id = parts[0].data["run_id"]
    pairs = _of(parts, "messages")
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
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await _stream(client, thread, f"{TOOL_PROMPT} {marker}", ["messages"])
    saved = (await client.threads.get_state(thread))["values"]["messages"][1:]
    kinds = [p.event for p in parts if p.event.startswith("messages")]
    assert set(kinds) == {"messages/metadata", "messages/partial", "messages/complete"}
    announced = [next(iter(d)) for d in _of(parts, "messages/metadata")]
    assert announced == [m["id"] for m in saved]  # each message announced, in order
    assert all("langgraph_node" in d[announced[0]]["metadata"]
               for d in _of(parts, "messages/metadata")[:1])  # fmt: skip
    partials = {d[0]["id"]: d[0] for d in _of(parts, "messages/partial")}  # the last of each
    completes = [d[0] for d in _of(parts, "messages/complete")]
    # As the Agent Server: streamed (AI) messages end as their last partial, whole ones
    # (the tool result) arrive once as complete.
    for message in saved:
        shown = partials.get(message["id"]) if message["type"] == "ai" else None
        if shown is None:
            shown = next(m for m in completes if m["id"] == message["id"])
        assert shown["content"] == message["content"]
    assert [m["id"] for m in completes] == [m["id"] for m in saved if m["type"] == "tool"]


async def test_stream_mode_custom_carries_what_the_tool_writes(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    prompt = f'[tool=generate_report {{"topic": "q3", "seconds": 2}}][tokens=2] {marker}'
    parts = await _stream(client, thread, prompt, ["custom"])
    assert {p.event for p in parts} == {"metadata", "custom", "end"}
    custom = _of(parts, "custom")
    assert [c["progress"] for c in custom] == ["q3: section 1/2 written", "q3: section 2/2 written"]
    assert all(c["name"] == "generate_report" for c in custom)


async def test_stream_mode_events_brackets_model_and_tool_runs(stack: Stack, marker: str) -> None:
    """astream_events v2: each model and tool run starts, (streams,) and ends; the stream
    still ends with chatstop's `end`."""
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    stream = client.runs.stream(thread, "agent", input=_user(f"{TOOL_PROMPT} {marker}"),
                                stream_mode=["events"])  # fmt: skip
    parts = [part async for part in stream]
    events = _of(parts, "events")
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
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    tasks = _of(await _stream(client, thread, f"{TOOL_PROMPT} {marker}", ["tasks"]), "tasks")
    starts = [t for t in tasks if "triggers" in t]
    results = [t for t in tasks if "result" in t]
    assert all(_keys(schema.TaskPayload) <= set(t) for t in starts)
    assert all(_keys(schema.TaskResultPayload) <= set(t) for t in results)
    assert (
        [t["name"] for t in starts] == [t["name"] for t in results] == ["model", "tools", "model"]
    )
    assert [t["id"] for t in starts] == [t["id"] for t in results]
    assert all(t["error"] is None and t["interrupts"] == [] for t in results)
    assert results[1]["result"]["messages"][0]["name"] == "search_docs"


async def test_stream_modes_checkpoints_and_debug_name_the_thread(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    parts = await _stream(client, thread, f"{TOOL_PROMPT} {marker}", ["checkpoints", "debug"])
    checkpoints = _of(parts, "checkpoints")
    assert all(_keys(schema.CheckpointPayload) <= set(c) for c in checkpoints)
    assert [c["next"] for c in checkpoints][-4:] == [["model"], ["tools"], ["model"], []]
    for earlier, later in zip(checkpoints, checkpoints[1:], strict=False):
        assert later["parent_config"] == earlier["config"]
    debug = _of(parts, "debug")
    assert {d["type"] for d in debug} == {"checkpoint", "task", "task_result"}
    assert all({"step", "timestamp", "type", "payload"} <= set(d) for d in debug)
    configs = [c["config"]["configurable"] for c in checkpoints] + [
        d["payload"]["config"]["configurable"] for d in debug if d["type"] == "checkpoint"
    ]
    assert {c["thread_id"] for c in configs} == {thread}, "checkpoints name the run's thread"


async def test_join_stream_from_minus_one_replays_a_resumable_run(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread, "agent", input=_user(f"[tokens=20][pace=5] {marker}"),
                                   stream_mode=["values", "messages-tuple"],
                                   stream_resumable=True)  # fmt: skip
    replay = [p async for p in client.runs.join_stream(thread, run["run_id"], last_event_id="-1")]
    assert replay[0].event == "metadata" and replay[0].data["run_id"] == run["run_id"]
    assert replay[-1].event == "end" and len(_of(replay, "messages")) >= 20
    ids = [int(p.id) for p in replay]
    assert ids == sorted(set(ids)), "every event has its own, increasing id"

    middle = replay[len(replay) // 2]
    resumed = client.runs.join_stream(thread, run["run_id"], last_event_id=middle.id)
    rest = [(p.event, p.id) async for p in resumed]
    assert rest == [(p.event, p.id) for p in replay[len(replay) // 2 + 1 :]]


async def test_cancel_interrupt_keeps_the_partial_answer_and_rollback_undoes_the_turn(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    run_id = await _streaming_run(stack, client, thread, f"{marker}-a")
    stopped = await client.runs.cancel(thread, run_id, wait=True, action="interrupt")
    assert _keys(schema.Run) <= set(stopped) and stopped["status"] == "interrupted"
    assert (await client.runs.get(thread, run_id))["status"] == "interrupted"
    kept = (await client.threads.get_state(thread))["values"]["messages"]
    assert [m["type"] for m in kept] == ["human", "ai"] and kept[-1]["content"]
    assert kept[-1]["response_metadata"]["stopped"] is True
    assert (await client.threads.get(thread))["status"] == "idle"

    run_id = await _streaming_run(stack, client, thread, f"{marker}-b")
    undone = await client.runs.cancel(thread, run_id, wait=True, action="rollback")
    assert undone["status"] == "interrupted"
    assert (await client.threads.get_state(thread))["values"]["messages"] == kept
    assert (await client.threads.get(thread))["status"] == "idle"


async def test_cancel_many_stops_the_runs_it_names(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    run_id = await _streaming_run(stack, client, thread, marker)
    assert await client.runs.cancel_many(thread_id=thread, run_ids=[run_id]) is None
    await client.runs.join(thread, run_id)
    assert (await client.runs.get(thread, run_id))["status"] == "interrupted"


async def test_if_not_exists_create_makes_the_thread_and_reject_refuses(
    stack: Stack, marker: str
) -> None:
    client = _sdk(stack)
    missing, made = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await client.runs.wait(missing, "agent", input=_user(f"[tokens=2] {marker}"))
    assert _refusal(refused.value) == (404, f"Thread {missing} not found")
    values = await client.runs.wait(made, "agent", input=_user(f"[tokens=2] {marker}"),
                                    if_not_exists="create")  # fmt: skip
    assert [m["type"] for m in values["messages"]] == ["human", "ai"]
    assert (await client.threads.get(made))["metadata"]["graph_id"] == "agent"


async def test_a_run_on_an_earlier_checkpoint_forks_from_it(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    for word in ("one", "two"):
        await client.runs.wait(thread, "agent", input=_user(f"[tokens=2] {word} {marker}"))
    first = (await client.threads.get_history(thread))[-1]["checkpoint"]

    values = await client.runs.wait(thread, "agent", input=_user(f"[tokens=2] three {marker}"),
                                    checkpoint=first)  # fmt: skip
    said = [m["content"] for m in values["messages"] if m["type"] == "human"]
    assert said == [f"[tokens=2] one {marker}", f"[tokens=2] three {marker}"]
    state = await client.threads.get_state(thread)
    assert state["parent_checkpoint"] == first  # descends from it, not from "two"
    assert state["values"]["messages"] == values["messages"]


async def test_stateless_runs_stream_wait_and_create(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    stream = client.runs.stream(None, "agent", input=_user(f"[tokens=2] {marker}"),
                                stream_mode=["values"],
                                metadata={"marker": f"{marker}-s"})  # fmt: skip
    parts = [part async for part in stream]
    assert [p.event for p in parts][0] == "metadata" and parts[-1].event == "end"
    assert [m["type"] for m in _of(parts, "values")[-1]["messages"]] == ["human", "ai"]
    waited = await client.runs.wait(None, "agent", input=_user(f"[tokens=2] {marker}"),
                                    metadata={"marker": f"{marker}-w"})  # fmt: skip
    assert [m["type"] for m in waited["messages"]] == ["human", "ai"]
    for label in ("s", "w"):  # on_completion "delete" (the default) leaves no thread behind
        gone = partial(_no_threads, client, {"marker": f"{marker}-{label}"})
        await eventually(gone, within=10, what=f"the stateless run's thread ({label}) is deleted")

    run = await client.runs.create(None, "agent", input=_user(f"[tokens=2] {marker}"),
                                   metadata={"marker": f"{marker}-c"})  # fmt: skip
    assert _keys(schema.Run) <= set(run) and run["thread_id"]
    joined = await client.runs.join(run["thread_id"], run["run_id"])
    assert [m["type"] for m in joined["messages"]] == ["human", "ai"]
    # A background stateless run keeps its thread (nothing waits to delete it), so the
    # searches above could have found the others.
    kept = await client.threads.search(metadata={"marker": f"{marker}-c"})
    assert [t["thread_id"] for t in kept] == [run["thread_id"]]


async def _no_threads(client: Any, metadata: dict[str, Any]) -> bool:
    return await client.threads.search(metadata=metadata) == []


async def test_assistants_get_search_graph_schemas_and_subgraphs(stack: Stack) -> None:
    client = _sdk(stack)
    assistant = await client.assistants.get("agent")
    assert _keys(schema.Assistant) <= set(assistant), assistant
    assert (assistant["assistant_id"], assistant["graph_id"]) == ("agent", "agent")
    found = await client.assistants.search(graph_id="agent")
    assert [a["assistant_id"] for a in found] == ["agent"] and found[0] == assistant
    assert "agent" in [a["assistant_id"] for a in await client.assistants.search()]

    graph = await client.assistants.get_graph("agent")
    assert {n["id"] for n in graph["nodes"]} == {"__start__", "model", "tools", "__end__"}
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert {("__start__", "model"), ("model", "tools"), ("tools", "model")} <= edges
    schemas = await client.assistants.get_schemas("agent")
    assert set(schemas) >= _keys(schema.GraphSchema) and schemas["graph_id"] == "agent"
    assert "messages" in schemas["state_schema"]["properties"]
    assert await client.assistants.get_subgraphs("agent") == {}
    with pytest.raises(NotFoundError) as missing:
        await client.assistants.get("nope")
    assert missing.value.status_code == 404 and "nope" in str(missing.value.body)


async def test_store_items_put_get_search_list_and_delete(stack: Stack, marker: str) -> None:
    client = _sdk(stack)
    namespace = ["conformance", marker]
    assert await client.store.put_item(namespace, "k1", {"colour": "blue"}) is None
    item = await client.store.get_item(namespace, "k1")
    assert set(item) >= _keys(schema.Item), item
    assert (item["namespace"], item["key"], item["value"]) == (namespace, "k1", {"colour": "blue"})

    searched = await client.store.search_items(["conformance", marker])
    assert set(searched) == {"items"} and [i["key"] for i in searched["items"]] == ["k1"]
    filtered = await client.store.search_items(namespace, filter={"colour": "red"})
    assert filtered == {"items": []}
    listed = await client.store.list_namespaces(prefix=namespace)
    assert listed == {"namespaces": [namespace]}

    assert await client.store.delete_item(namespace, "k1") is None
    assert await client.store.search_items(namespace) == {"items": []}
    # The Agent Server answers 200 `null` for a missing item (the SDK returns None).
    assert await client.store.get_item(namespace, "k1") is None


async def test_info_answers_version_and_flags(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        answer = await http.get("/info")
    assert answer.status_code == 200, answer.text
    info = answer.json()
    assert isinstance(info["version"], str) and info["version"]
    assert isinstance(info["flags"], dict) and info["flags"]["assistants"] is True
