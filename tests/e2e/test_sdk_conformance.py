"""The official Python `langgraph-sdk` against chatstop, one test per area, asserting the
Agent Server's shapes: keys (langgraph_sdk.schema's TypedDicts are the reference), statuses
and refusals. Stream modes are in test_sdk_conformance_streams.py. chatstop's own additions
(the `end` SSE event, a run's `outcome`) are expected and not checked here."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, schema
from langgraph_sdk.errors import ConflictError, NotFoundError

from tests.e2e.sdk_shapes import (
    CHECKPOINT_KEYS,
    events_of,
    refusal,
    required_keys,
    sdk,
    streaming_run,
    user,
)
from tests.fixtures.eventually import eventually
from tests.stack import Stack, another_api

pytestmark = pytest.mark.e2e


async def test_threads_create_get_update_search_copy_and_delete(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    made = [await client.threads.create(metadata={"marker": marker, "i": i}) for i in range(3)]
    assert required_keys(schema.Thread) <= set(made[0]), made[0]
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
    assert found(by_meta) == ids and required_keys(schema.Thread) <= set(by_meta[0])
    newest_first = await client.threads.search(metadata={"marker": marker}, sort_order="desc")
    assert found(newest_first) == ids[::-1]
    page = await client.threads.search(metadata={"marker": marker}, sort_by="created_at",
                                       sort_order="asc", limit=1, offset=1)  # fmt: skip
    assert found(page) == [ids[1]]
    assert set(found(await client.threads.search(ids=[ids[0], ids[2]]))) == {ids[0], ids[2]}
    assert len(await client.threads.search(metadata={"marker": marker}, status="idle")) == 3
    assert await client.threads.search(metadata={"marker": marker}, status="busy") == []

    await client.runs.wait(ids[1], "agent", input=user(f"[tokens=2] {marker}"))
    original = await client.threads.get(ids[1])
    copy = await client.threads.copy(ids[1])
    assert copy["thread_id"] not in ids and required_keys(schema.Thread) <= set(copy)
    assert copy["values"] == original["values"] and len(copy["values"]["messages"]) == 2
    assert copy["metadata"] == original["metadata"]

    assert await client.threads.delete(ids[2]) is None
    with pytest.raises(NotFoundError) as gone:
        await client.threads.get(ids[2])
    assert gone.value.status_code == 404 and ids[2] in str(gone.value.body)


async def test_state_history_and_update_state_link_checkpoints(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    for word in ("one", "two"):
        await client.runs.wait(thread, "agent", input=user(f"[tokens=2] {word} {marker}"))

    state = await client.threads.get_state(thread)
    expected = required_keys(schema.ThreadState) | {"checkpoint_id", "parent_checkpoint_id"}
    assert expected <= set(state)
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
    client = sdk(stack)
    thread = (await client.threads.create(metadata={"marker": marker}))["thread_id"]
    run = await client.runs.create(thread, "agent", input=user(f"[tokens=2] {marker}"))
    assert required_keys(schema.Run) <= set(run) and run["status"] in ("pending", "running")
    assert (run["thread_id"], run["assistant_id"]) == (thread, "agent")
    metadata = (await client.threads.get(thread))["metadata"]
    assert metadata == {"marker": marker, "graph_id": "agent", "assistant_id": "agent"}
    await client.runs.join(thread, run["run_id"])


async def test_background_runs_join_get_list_and_delete(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    runs = []
    for word in ("one", "two"):
        run = await client.runs.create(thread, "agent", input=user(f"[tokens=2] {word} {marker}"))
        joined = await client.runs.join(thread, run["run_id"])
        assert [m["type"] for m in joined["messages"]][-2:] == ["human", "ai"]
        runs.append(run["run_id"])

    got = await client.runs.get(thread, runs[0])
    assert required_keys(schema.Run) <= set(got) and got["status"] == "success"
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


async def test_cancel_interrupt_keeps_the_partial_answer_and_rollback_undoes_the_turn(
    stack: Stack, marker: str
) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    run_id = await streaming_run(stack, client, thread, f"{marker}-a")
    stopped = await client.runs.cancel(thread, run_id, wait=True, action="interrupt")
    assert required_keys(schema.Run) <= set(stopped) and stopped["status"] == "interrupted"
    assert (await client.runs.get(thread, run_id))["status"] == "interrupted"
    kept = (await client.threads.get_state(thread))["values"]["messages"]
    assert [m["type"] for m in kept] == ["human", "ai"] and kept[-1]["content"]
    assert kept[-1]["response_metadata"]["stopped"] is True
    assert (await client.threads.get(thread))["status"] == "idle"

    run_id = await streaming_run(stack, client, thread, f"{marker}-b")
    undone = await client.runs.cancel(thread, run_id, wait=True, action="rollback")
    assert undone["status"] == "interrupted"
    assert (await client.threads.get_state(thread))["values"]["messages"] == kept
    assert (await client.threads.get(thread))["status"] == "idle"


async def test_cancel_many_stops_the_runs_it_names(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    run_id = await streaming_run(stack, client, thread, marker)
    assert await client.runs.cancel_many(thread_id=thread, run_ids=[run_id]) is None
    await client.runs.join(thread, run_id)
    assert (await client.runs.get(thread, run_id))["status"] == "interrupted"


async def test_if_not_exists_create_makes_the_thread_and_reject_refuses(
    stack: Stack, marker: str
) -> None:
    client = sdk(stack)
    missing, made = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await client.runs.wait(missing, "agent", input=user(f"[tokens=2] {marker}"))
    assert refusal(refused.value) == (404, f"Thread {missing} not found")
    values = await client.runs.wait(made, "agent", input=user(f"[tokens=2] {marker}"),
                                    if_not_exists="create")  # fmt: skip
    assert [m["type"] for m in values["messages"]] == ["human", "ai"]
    assert (await client.threads.get(made))["metadata"]["graph_id"] == "agent"


async def test_a_run_on_an_earlier_checkpoint_forks_from_it(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    thread = (await client.threads.create())["thread_id"]
    for word in ("one", "two"):
        await client.runs.wait(thread, "agent", input=user(f"[tokens=2] {word} {marker}"))
    first = (await client.threads.get_history(thread))[-1]["checkpoint"]

    values = await client.runs.wait(thread, "agent", input=user(f"[tokens=2] three {marker}"),
                                    checkpoint=first)  # fmt: skip
    said = [m["content"] for m in values["messages"] if m["type"] == "human"]
    assert said == [f"[tokens=2] one {marker}", f"[tokens=2] three {marker}"]
    state = await client.threads.get_state(thread)
    assert state["parent_checkpoint"] == first  # descends from it, not from "two"
    assert state["values"]["messages"] == values["messages"]


async def test_stateless_runs_stream_wait_and_create(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    stream = client.runs.stream(None, "agent", input=user(f"[tokens=2] {marker}"),
                                stream_mode=["values"],
                                metadata={"marker": f"{marker}-s"})  # fmt: skip
    parts = [part async for part in stream]
    assert [p.event for p in parts][0] == "metadata" and parts[-1].event == "end"
    assert [m["type"] for m in events_of(parts, "values")[-1]["messages"]] == ["human", "ai"]
    waited = await client.runs.wait(None, "agent", input=user(f"[tokens=2] {marker}"),
                                    metadata={"marker": f"{marker}-w"})  # fmt: skip
    assert [m["type"] for m in waited["messages"]] == ["human", "ai"]
    for label in ("s", "w"):  # on_completion "delete" (the default) leaves no thread behind
        gone = partial(_no_threads, client, {"marker": f"{marker}-{label}"})
        await eventually(gone, within=10, what=f"the stateless run's thread ({label}) is deleted")

    run = await client.runs.create(None, "agent", input=user(f"[tokens=2] {marker}"),
                                   metadata={"marker": f"{marker}-c"})  # fmt: skip
    assert required_keys(schema.Run) <= set(run) and run["thread_id"]
    joined = await client.runs.join(run["thread_id"], run["run_id"])
    assert [m["type"] for m in joined["messages"]] == ["human", "ai"]


async def test_threads_nobody_waited_for_go_a_while_after_their_run(
    stack: Stack, marker: str
) -> None:
    """A background stateless run, and a stateless stream whose client left: nothing waits to
    delete their threads, so the thread workflow does, `temporary_thread_seconds` after the
    run's end (its outcome can be read until then). `on_completion: "keep"` keeps it."""
    async with another_api(stack, limits={"temporary_thread_seconds": 0.5}) as url:
        client = get_client(url=url)
        runs = {
            on_completion: await client.runs.create(
                None, "agent", input=user(f"[tokens=3] {on_completion} {marker}"),
                on_completion=on_completion,
            )
            for on_completion in ("delete", "keep")
        }  # fmt: skip
        for run in runs.values():
            joined = await client.runs.join(run["thread_id"], run["run_id"])
            assert [m["type"] for m in joined["messages"]] == ["human", "ai"]
        left: Any = client.runs.stream(None, "agent", input=user(f"[tokens=40][pace=10] {marker}"),
                                  metadata={"marker": f"{marker}-left"})  # fmt: skip
        async for part in left:
            if part.event == "values":
                break  # the client leaves; the run goes on (on_disconnect: continue)
        await left.aclose()
        [left_thread] = await client.threads.search(metadata={"marker": f"{marker}-left"})

        for thread_id in (runs["delete"]["thread_id"], left_thread["thread_id"]):
            gone = partial(_thread_gone, client, thread_id)
            await eventually(gone, within=30, what="the temporary thread is deleted")
            assert await stack.store.messages(thread_id) == []
        # Its run ended as early as the deleted one's, and its thread is still there.
        assert (await client.threads.get(runs["keep"]["thread_id"]))["status"] == "idle"


async def _thread_gone(client: Any, thread_id: str) -> bool:
    try:
        await client.threads.get(thread_id)
    except NotFoundError:
        return True
    return False


async def _no_threads(client: Any, metadata: dict[str, Any]) -> bool:
    return await client.threads.search(metadata=metadata) == []


async def test_assistants_get_search_graph_schemas_and_subgraphs(stack: Stack) -> None:
    client = sdk(stack)
    assistant = await client.assistants.get("agent")
    assert required_keys(schema.Assistant) <= set(assistant), assistant
    assert (assistant["assistant_id"], assistant["graph_id"]) == ("agent", "agent")
    found = await client.assistants.search(graph_id="agent")
    assert [a["assistant_id"] for a in found] == ["agent"] and found[0] == assistant
    assert "agent" in [a["assistant_id"] for a in await client.assistants.search()]

    graph = await client.assistants.get_graph("agent")
    assert {n["id"] for n in graph["nodes"]} == {"__start__", "model", "tools", "__end__"}
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert {("__start__", "model"), ("model", "tools"), ("tools", "model")} <= edges
    schemas = await client.assistants.get_schemas("agent")
    assert set(schemas) >= required_keys(schema.GraphSchema) and schemas["graph_id"] == "agent"
    assert "messages" in schemas["state_schema"]["properties"]
    assert await client.assistants.get_subgraphs("agent") == {}
    with pytest.raises(NotFoundError) as missing:
        await client.assistants.get("nope")
    assert missing.value.status_code == 404 and "nope" in str(missing.value.body)


async def test_store_items_put_get_search_list_and_delete(stack: Stack, marker: str) -> None:
    client = sdk(stack)
    namespace = ["conformance", marker]
    assert await client.store.put_item(namespace, "k1", {"colour": "blue"}) is None
    item = await client.store.get_item(namespace, "k1")
    assert set(item) >= required_keys(schema.Item), item
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
