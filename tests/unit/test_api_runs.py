"""Runs over HTTP with a fake Temporal: what the API asks the thread workflow, what it
records, and how a run's record becomes its status, its thread's status and its values."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from api.errors import ConflictError
from core.contracts import StopRequest, turn_workflow_id
from core.thread_contracts import REJECT_DETAIL
from tests.fixtures.eventually import eventually
from tests.unit.api_harness import UNKNOWN_RUN, USER_MESSAGE, Api, completed_outcome

RUN_BODY: dict[str, Any] = {"assistant_id": "agent", "input": {"messages": [USER_MESSAGE]}}


async def test_create_asks_the_thread_workflow_to_admit_the_turn_then_records_it(
    api: Api,
) -> None:
    thread_id = await api.new_thread()

    response = await api.http.post(
        f"/threads/{thread_id}/runs",
        json={**RUN_BODY, "webhook": "ignored", "config": {"tags": ["t"], "other": 1}},
    )

    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "pending" and run["multitask_strategy"] == "enqueue"
    assert run["cancel_reason"] is None and run["outcome"] is None
    assert response.headers["content-location"] == f"/threads/{thread_id}/runs/{run['run_id']}"
    [(request, owner)] = api.gateway.submitted
    turn = request.turn
    assert owner == "alice" and request.run_id == run["run_id"]
    assert request.multitask_strategy == "enqueue" and request.summary == "hello there"
    assert (turn.thread_id, turn.run_id, turn.user_id) == (thread_id, run["run_id"], "alice")
    assert turn.graph_id == "agents.react:graph" and turn.assistant_id == "agent"
    assert turn.model_name == api.settings.model_name
    assert turn.model_max_attempts == api.settings.model.max_attempts
    assert turn.heartbeat_timeout_seconds == api.settings.heartbeat.timeout_seconds
    assert turn.config == {"tags": ["t"]}  # only LangGraph's own keys reach the graph
    [message] = turn.input_messages
    assert message["type"] == "human" and message["content"] == "hello there"
    assert str(uuid.UUID(message["id"])) == message["id"]
    assert turn.record["workflow_id"] == turn_workflow_id(thread_id, run["run_id"])
    assert turn.record["status"] == "pending" and turn.record["user_id"] == "alice"
    listed = (await api.http.get(f"/threads/{thread_id}/runs")).json()
    assert listed == [run]  # the answer is the run as stored
    thread = (await api.http.get(f"/threads/{thread_id}")).json()
    assert thread["metadata"]["graph_id"] == "agent"


async def test_invalid_runs_never_reach_temporal(api: Api) -> None:
    thread_id = await api.new_thread()
    cases = [
        ("/threads/nope/runs", RUN_BODY, 404, "Thread nope not found"),
        (
            f"/threads/{thread_id}/runs",
            {**RUN_BODY, "assistant_id": "x"},
            404,
            "Assistant 'x' not found (known assistants: agent)",
        ),
        (
            f"/threads/{thread_id}/runs/stream",
            {"assistant_id": "agent", "input": {"messages": []}},
            422,
            "input.messages must be a non-empty list",
        ),
        (
            f"/threads/{thread_id}/runs/wait",
            {"assistant_id": "agent"},
            422,
            "input.messages must be a non-empty list",
        ),
        (
            f"/threads/{thread_id}/runs",
            {"input": {"messages": [USER_MESSAGE]}},
            422,
            "Invalid request: body.assistant_id: Field required",
        ),
    ]
    for path, body, status, detail in cases:
        response = await api.http.post(path, json=body)
        assert response.status_code == status, path
        assert response.json()["detail"].startswith(detail), response.json()
    assert api.gateway.submitted == []
    assert await api.records.list_runs(thread_id) == []


async def test_status_comes_from_the_record_the_worker_writes(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = (await api.http.post(f"/threads/{thread_id}/runs", json=RUN_BODY)).json()["run_id"]
    path = api.run_path(thread_id, run_id)

    pending = (await api.http.get(path)).json()
    await api.worker.start(thread_id, run_id)
    running = (await api.http.get(path)).json()
    busy = (await api.http.get(f"/threads/{thread_id}")).json()
    await api.worker.finish(thread_id, run_id, completed_outcome(kept=["a"]))
    done = (await api.http.get(path)).json()
    idle = (await api.http.get(f"/threads/{thread_id}")).json()

    assert [pending["status"], running["status"], done["status"]] == [
        "pending",
        "running",
        "success",
    ]
    assert running["outcome"] is None
    assert done["outcome"]["outcome"] == "completed" and done["outcome"]["kept"] == ["a"]
    assert (busy["status"], idle["status"]) == ("busy", "idle")


async def test_failed_run_is_an_error_run_an_error_thread_and_an_error_join(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    failure = {"status": "error", "outcome": "error", "error": "model exploded"}
    await api.worker.finish(thread_id, run_id, failure)

    got = (await api.http.get(api.run_path(thread_id, run_id))).json()
    thread = (await api.http.get(f"/threads/{thread_id}")).json()
    joined = await api.http.get(api.run_path(thread_id, run_id, "/join"))

    assert got["status"] == "error" and got["outcome"]["error"] == "model exploded"
    assert thread["status"] == "error"
    assert joined.status_code == 200
    assert joined.json() == {"__error__": {"error": "RunError", "message": "model exploded"}}


async def test_a_refused_run_is_409_with_the_thread_workflows_reason_and_not_recorded(
    api: Api,
) -> None:
    thread_id = await api.new_thread()
    first = await api.start_run(thread_id)
    api.gateway.refuse = ConflictError(REJECT_DETAIL)

    response = await api.http.post(
        f"/threads/{thread_id}/runs", json={**RUN_BODY, "multitask_strategy": "reject"}
    )

    assert response.status_code == 409
    assert response.json() == {"detail": REJECT_DETAIL}
    assert [r.run_id for r in await api.records.list_runs(thread_id)] == [first]


async def test_superseded_runs_hear_the_stop_notice_naming_the_new_runs_strategy(
    api: Api,
) -> None:
    thread_id = await api.new_thread()
    first = await api.start_run(thread_id)
    notices: list[bytes] = []
    listener = await api.broker.on_stop(first, notices.append)
    api.gateway.superseded = [first]

    second = await api.http.post(
        f"/threads/{thread_id}/runs", json={**RUN_BODY, "multitask_strategy": "rollback"}
    )

    assert second.status_code == 200
    assert api.gateway.submitted[-1][0].multitask_strategy == "rollback"
    await eventually(lambda: notices, within=5, what="stop notice for the superseded run")
    assert notices == [b'{"action":"rollback","actor":"alice"}']
    await listener.close()


async def test_the_same_idempotency_key_is_the_same_run_and_one_admission(api: Api) -> None:
    thread_id = await api.new_thread()
    headers = {"Idempotency-Key": "retry-me"}
    path = f"/threads/{thread_id}/runs"

    first = await api.http.post(path, json=RUN_BODY, headers=headers)
    again = await api.http.post(path, json=RUN_BODY, headers=headers)
    other = await api.http.post(path, json=RUN_BODY, headers={"Idempotency-Key": "another"})

    assert first.status_code == again.status_code == other.status_code == 200
    assert again.json()["run_id"] == first.json()["run_id"] != other.json()["run_id"]
    assert len(api.gateway.submitted) == 2


async def test_wait_answers_the_threads_values_once_the_run_ended(api: Api) -> None:
    thread_id = await api.new_thread()
    waiting = asyncio.create_task(api.http.post(f"/threads/{thread_id}/runs/wait", json=RUN_BODY))
    await eventually(
        lambda: api.records.list_runs(thread_id), within=5, what="the run was admitted"
    )
    request = api.gateway.submitted[0][0]
    answer = {"type": "ai", "content": "hi!", "id": "ai-1"}
    await api.worker.finish(
        thread_id, request.run_id, messages=[*request.turn.input_messages, answer]
    )

    response = await asyncio.wait_for(waiting, 10)

    assert response.status_code == 200
    location = f"/threads/{thread_id}/runs/{request.run_id}"
    assert response.headers["content-location"] == location
    assert response.headers["location"] == f"{location}/join"
    messages = response.json()["messages"]
    assert [(m["type"], m["content"]) for m in messages] == [
        ("human", "hello there"),
        ("ai", "hi!"),
    ]


async def test_join_of_a_finished_run_returns_the_thread_values(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    answer = {"type": "ai", "content": "done", "id": "ai-2"}
    await api.worker.finish(thread_id, run_id, messages=[answer])

    joined = await api.http.get(api.run_path(thread_id, run_id, "/join"))

    assert joined.status_code == 200
    assert [m["content"] for m in joined.json()["messages"]] == ["done"]


async def test_list_runs_is_newest_first_and_filters_and_pages(api: Api) -> None:
    thread_id = await api.new_thread()
    first = await api.start_run(thread_id)
    await api.worker.finish(thread_id, first)
    second = await api.start_run(thread_id)
    path = f"/threads/{thread_id}/runs"

    everything = (await api.http.get(path)).json()
    running = (await api.http.get(path, params={"status": "running"})).json()
    paged = (await api.http.get(path, params={"limit": 1, "offset": 1})).json()
    bad = await api.http.get(path, params={"status": "finished"})

    assert [r["run_id"] for r in everything] == [second, first]
    assert [r["run_id"] for r in running] == [second]
    assert [r["run_id"] for r in paged] == [first]
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("Invalid request: query.status: String should match")


async def test_unknown_run_is_404_naming_run_and_thread(api: Api) -> None:
    thread_id = await api.new_thread()

    for method, suffix in [("GET", ""), ("POST", "/cancel"), ("GET", "/join"), ("DELETE", "")]:
        response = await api.http.request(method, api.run_path(thread_id, UNKNOWN_RUN, suffix))
        assert response.status_code == 404, suffix
        assert response.json() == {"detail": f"Run {UNKNOWN_RUN} not found in thread {thread_id}"}


async def test_another_users_runs_do_not_exist_for_them(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    bob = {"x-user-id": "bob"}

    for method, suffix in [("GET", ""), ("POST", "/cancel"), ("GET", "/join"), ("DELETE", "")]:
        response = await api.http.request(
            method, api.run_path(thread_id, run_id, suffix), headers=bob
        )
        assert response.status_code == 404, suffix
        assert response.json() == {"detail": f"Thread {thread_id} not found"}
    created = await api.http.post(f"/threads/{thread_id}/runs", json=RUN_BODY, headers=bob)
    assert created.status_code == 404
    assert api.gateway.turn_cancels == [] and len(api.gateway.submitted) == 1


async def test_delete_run_refuses_an_active_run_and_forgets_an_ended_one(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    path = api.run_path(thread_id, run_id)

    refused = await api.http.delete(path)
    await api.worker.finish(thread_id, run_id)
    deleted = await api.http.delete(path)
    after = await api.http.get(path)

    assert refused.status_code == 409
    assert refused.json() == {
        "detail": f"Run {run_id} is still running; cancel it before deleting it"
    }
    assert deleted.status_code == 204 and deleted.content == b""
    assert after.status_code == 404


async def test_stop_request_travels_with_the_actor_who_asked(api: Api) -> None:
    """The actor is the authenticated caller, never a field the client could forge."""
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)

    await api.http.post(
        api.run_path(thread_id, run_id, "/cancel"), json={"reason": "x", "actor": "mallory"}
    )

    [(_, _, stop)] = api.gateway.turn_cancels
    assert stop == StopRequest(action="interrupt", actor="alice", reason="x")
