"""Threads, assistants, health, auth and error shapes over HTTP, with a fake Temporal."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

from api.errors import TemporalUnavailableError
from core.contracts import StopRequest
from core.live import Live
from tests.fixtures.nats import NatsServer
from tests.unit.api_harness import Api, running_api


@pytest.fixture
def sdk(api: Api) -> LangGraphClient:
    return LangGraphClient(api.http)


async def test_create_thread_returns_agent_server_shape(api: Api) -> None:
    response = await api.http.post("/threads", json={"metadata": {"topic": "tea"}})

    assert response.status_code == 200
    thread = response.json()
    assert thread["metadata"] == {"topic": "tea"}
    assert thread["status"] == "idle"
    assert thread["values"] == {"messages": []}
    assert thread["config"] == {} and thread["interrupts"] == {}
    assert thread["created_at"] == thread["updated_at"]


async def test_create_thread_without_body(api: Api) -> None:
    response = await api.http.post("/threads")

    assert response.status_code == 200
    assert response.json()["thread_id"]


async def test_duplicate_thread_id_conflicts_unless_do_nothing(api: Api) -> None:
    await api.new_thread(thread_id="t-1", metadata={"v": 1})

    duplicate = await api.http.post("/threads", json={"thread_id": "t-1"})
    kept = await api.http.post("/threads", json={"thread_id": "t-1", "if_exists": "do_nothing"})

    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == "Thread t-1 already exists"
    assert kept.status_code == 200
    assert kept.json()["metadata"] == {"v": 1}


async def test_another_users_thread_id_is_never_handed_over(api: Api) -> None:
    await api.new_thread(thread_id="taken")

    for if_exists in ("raise", "do_nothing"):
        response = await api.http.post(
            "/threads",
            json={"thread_id": "taken", "if_exists": if_exists},
            headers={"x-user-id": "bob"},
        )
        assert response.status_code == 409, if_exists
        assert response.json() == {"detail": "Thread id taken is not available; choose another id"}


async def test_threads_are_owner_scoped(api: Api) -> None:
    await api.new_thread(thread_id="alices", metadata={"k": "v"})
    bob = {"x-user-id": "bob"}

    seen = await api.http.get("/threads/alices", headers=bob)
    searched = await api.http.post("/threads/search", json={"metadata": {"k": "v"}}, headers=bob)
    deleted = await api.http.delete("/threads/alices", headers=bob)

    assert seen.status_code == 404 and seen.json() == {"detail": "Thread alices not found"}
    assert searched.status_code == 200 and searched.json() == []
    assert deleted.status_code == 404
    assert (await api.http.get("/threads/alices")).status_code == 200


async def test_unknown_thread_is_404_with_detail(api: Api) -> None:
    for method, path in [
        ("GET", "/threads/nope"),
        ("GET", "/threads/nope/state"),
        ("DELETE", "/threads/nope"),
        ("GET", "/threads/nope/runs"),
        ("GET", "/threads/nope/runs/00000000-0000-4000-8000-000000000000"),
    ]:
        response = await api.http.request(method, path)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "Thread nope not found", path


async def test_delete_thread_closes_its_workflow_and_forgets_everything(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    await api.worker.publish(run_id, Live.VALUES, {"values": {}})
    await api.worker.finish(thread_id, run_id, messages=[{"type": "ai", "content": "x"}])

    deleted = await api.http.delete(f"/threads/{thread_id}")
    after = await api.http.get(f"/threads/{thread_id}")
    again = await api.http.post("/threads", json={"thread_id": thread_id})

    assert deleted.status_code == 204
    assert api.gateway.closed_threads == [
        (thread_id, StopRequest(action="interrupt", actor="alice", reason="thread deleted"))
    ]
    assert after.status_code == 404
    assert after.json()["detail"] == f"Thread {thread_id} not found"
    assert await api.broker.last_seq(run_id) is None  # its live events are gone
    assert again.status_code == 200
    assert again.json()["values"] == {"messages": []}  # a re-created id starts empty
    assert await api.records.list_runs(thread_id) == []


async def test_delete_thread_with_temporal_down_is_503_and_keeps_the_thread(api: Api) -> None:
    thread_id = await api.new_thread()
    api.gateway.refuse = TemporalUnavailableError("Temporal is unreachable at x:1: down")

    response = await api.http.delete(f"/threads/{thread_id}")

    assert response.status_code == 503
    assert response.json() == {"detail": "Temporal is unreachable at x:1: down"}
    assert response.headers["retry-after"] == "5"
    assert (await api.http.get(f"/threads/{thread_id}")).status_code == 200


async def test_search_filters_by_metadata_and_pages(api: Api) -> None:
    for index in range(3):
        await api.new_thread(thread_id=f"tea-{index}", metadata={"topic": "tea"})
    await api.new_thread(thread_id="coffee", metadata={"topic": "coffee"})

    tea = await api.http.post("/threads/search", json={"metadata": {"topic": "tea"}})
    page = await api.http.post(
        "/threads/search",
        json={
            "metadata": {"topic": "tea"},
            "limit": 2,
            "offset": 1,
            "sort_by": "thread_id",
            "sort_order": "asc",
        },
    )

    assert tea.status_code == 200
    assert sorted(t["thread_id"] for t in tea.json()) == ["tea-0", "tea-1", "tea-2"]
    assert [t["thread_id"] for t in page.json()] == ["tea-1", "tea-2"]


async def test_state_of_empty_thread_has_no_messages(api: Api) -> None:
    thread_id = await api.new_thread()

    response = await api.http.get(f"/threads/{thread_id}/state")

    assert response.status_code == 200
    state = response.json()
    assert state["values"] == {"messages": []}
    assert state["next"] == [] and state["tasks"] == [] and state["interrupts"] == []
    assert state["checkpoint"] == {
        "thread_id": thread_id,
        "checkpoint_ns": "",
        "checkpoint_id": None,
    }


async def test_state_and_thread_values_show_committed_messages(api: Api) -> None:
    thread_id = await api.new_thread()
    human = {"type": "human", "content": "hi", "id": "m-1"}
    ai = {"type": "ai", "content": "hello!", "id": "m-2"}
    checkpoint_id = await api.thread_store.commit(thread_id, [human, ai])

    state = (await api.http.get(f"/threads/{thread_id}/state")).json()
    thread = (await api.http.get(f"/threads/{thread_id}")).json()

    assert [(m["type"], m["content"], m["id"]) for m in state["values"]["messages"]] == [
        ("human", "hi", "m-1"),
        ("ai", "hello!", "m-2"),
    ]
    assert state["checkpoint"]["checkpoint_id"] == checkpoint_id
    assert [m["id"] for m in thread["values"]["messages"]] == ["m-1", "m-2"]


async def test_assistants_come_from_the_graph_registry(api: Api) -> None:
    one = await api.http.get("/assistants/agent")
    found = await api.http.post("/assistants/search", json={"graph_id": "agent"})
    none = await api.http.post("/assistants/search", json={"graph_id": "other"})

    assert one.status_code == 200
    assert one.json()["assistant_id"] == "agent"
    assert one.json()["graph_id"] == "agent"
    assert one.json()["version"] == 1
    assert [a["assistant_id"] for a in found.json()] == ["agent"]
    assert none.json() == []


async def test_unknown_assistant_is_404_naming_the_known_ones(api: Api) -> None:
    response = await api.http.get("/assistants/nope")

    assert response.status_code == 404
    assert response.json()["detail"] == "Assistant 'nope' not found (known assistants: agent)"


async def test_langgraph_sdk_threads_and_assistants(sdk: LangGraphClient) -> None:
    thread = await sdk.threads.create(metadata={"k": "v"}, thread_id="sdk-1")
    state = await sdk.threads.get_state("sdk-1")
    found = await sdk.threads.search(metadata={"k": "v"})
    assistant = await sdk.assistants.get("agent")

    assert thread["thread_id"] == "sdk-1"
    assert state["values"] == {"messages": []}
    assert [t["thread_id"] for t in found] == ["sdk-1"]
    assert assistant["assistant_id"] == "agent"
    with pytest.raises(ConflictError, match="Thread sdk-1 already exists"):
        await sdk.threads.create(thread_id="sdk-1", if_exists="raise")
    await sdk.threads.delete("sdk-1")
    with pytest.raises(NotFoundError, match="Thread sdk-1 not found"):
        await sdk.threads.get("sdk-1")


async def test_health_and_page_config(api: Api) -> None:
    ok = await api.http.get("/ok")
    healthz = await api.http.get("/healthz")
    config = await api.http.get("/chatstop/config")

    assert ok.json() == {"ok": True} and healthz.json() == {"ok": True}
    assert config.json() == {
        "temporal_ui": f"http://127.0.0.1:{api.settings.dev_server.ui_port}",
        "namespace": api.settings.temporal.namespace,
        "assistant_id": "agent",
    }


async def test_malformed_json_is_422_with_readable_detail(api: Api) -> None:
    response = await api.http.post(
        "/threads/search", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"].startswith("Invalid request: body")
    assert "JSON decode error" in response.json()["detail"]


async def test_invalid_field_is_422_naming_the_field(api: Api) -> None:
    response = await api.http.post("/threads", json={"if_exists": "overwrite"})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("Invalid request: body.if_exists:")


async def test_api_keys_require_a_known_key(tmp_path: Path, nats_server: NatsServer) -> None:
    keys = {"api_keys": {"k-alice": "alice"}}
    async with running_api(tmp_path, nats_server.url, api=keys) as api:
        missing = await api.http.post("/threads", json={})
        unknown = await api.http.get("/assistants/agent", headers={"x-api-key": "k-eve"})
        allowed = await api.http.post("/threads", json={}, headers={"x-api-key": "k-alice"})
        health = await api.http.get("/ok")

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["detail"].startswith("Missing credentials: send Authorization: Bearer")
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "Unknown API key"
    assert allowed.status_code == 200
    assert health.status_code == 200


async def test_unexpected_error_is_a_json_500(api: Api) -> None:
    async def explode() -> None:
        raise RuntimeError("boom")

    api.app.add_api_route("/explode", explode)
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        response = await http.get("/explode")

    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal error (RuntimeError); the server log has the details"
    }


async def test_search_by_status_reads_each_threads_runs(api: Api) -> None:
    busy = await api.new_thread(thread_id="busy")
    await api.new_thread(thread_id="idle")
    await api.start_run(busy)

    found = await api.http.post("/threads/search", json={"status": "busy"})
    by_status = await api.http.post(
        "/threads/search", json={"sort_by": "status", "sort_order": "asc"}
    )

    assert [t["thread_id"] for t in found.json()] == ["busy"]
    assert [(t["thread_id"], t["status"]) for t in by_status.json()] == [
        ("busy", "busy"),
        ("idle", "idle"),
    ]
