"""Runs over HTTP against a fake Temporal client: start, status, multitask, cancel, join."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
from langgraph_sdk.client import LangGraphClient
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

from api.runs_service import REJECT_DETAIL
from api.temporal_gateway import TemporalGateway
from core.contracts import StopRequest, TurnEvent, TurnInput, TurnOutcome, turn_workflow_id
from tests.unit.test_api_support import USER_MESSAGE, Api, running_api

SUCCESS = TurnOutcome(status="success", turn_status="completed", outcome="completed", kept=["a"])


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as running:
        yield running


async def start_run(api: Api, thread_id: str, **body: Any) -> dict[str, Any]:
    payload = {"assistant_id": "agent", "input": {"messages": [USER_MESSAGE]}, **body}
    response = await api.http.post(
        f"/threads/{thread_id}/runs", json=payload, headers={"x-user-id": "alice"}
    )
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


async def test_start_sends_the_turn_to_temporal(api: Api) -> None:
    thread_id = await api.new_thread()

    response = await api.http.post(
        f"/threads/{thread_id}/runs",
        json={"assistant_id": "agent", "input": {"messages": [USER_MESSAGE]}, "webhook": "x"},
        headers={"x-user-id": "alice"},
    )

    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "running" and run["multitask_strategy"] == "enqueue"
    assert response.headers["content-location"] == f"/threads/{thread_id}/runs/{run['run_id']}"
    [call] = api.temporal.starts
    turn: TurnInput = call.arg
    assert call.workflow == "ChatTurn"
    assert call.kwargs["id"] == turn_workflow_id(thread_id, run["run_id"])
    assert call.kwargs["task_queue"] == api.settings.temporal.task_queue
    assert (turn.thread_id, turn.run_id, turn.user_id) == (thread_id, run["run_id"], "alice")
    assert turn.graph_id == "agents.react:graph" and turn.assistant_id == "agent"
    assert turn.model_name == api.settings.model_name
    assert turn.model_max_attempts == api.settings.model.max_attempts
    assert turn.heartbeat_timeout_seconds == api.settings.heartbeat.timeout_seconds
    [message] = turn.input_messages
    assert message["type"] == "human" and message["content"] == "hello there" and message["id"]
    attributes = call.kwargs["search_attributes"]
    assert attributes.get(SearchAttributeKey.for_keyword("ThreadId")) == thread_id
    assert attributes.get(SearchAttributeKey.for_keyword("UserId")) == "alice"
    assert attributes.get(SearchAttributeKey.for_keyword("TurnStatus")) == "running"
    assert call.kwargs["memo"] == {"preview": "hello there", "assistant_id": "agent"}
    assert call.kwargs["static_summary"] == "hello there"


async def test_invalid_runs_never_reach_temporal(api: Api) -> None:
    thread_id = await api.new_thread()
    cases = [
        (
            "/threads/nope/runs",
            {"assistant_id": "agent", "input": {"messages": [USER_MESSAGE]}},
            404,
            "Thread nope not found",
        ),
        (
            f"/threads/{thread_id}/runs",
            {"assistant_id": "x", "input": {"messages": [USER_MESSAGE]}},
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
    assert api.temporal.starts == []


async def test_status_comes_from_temporal_and_is_cached_once_terminal(api: Api) -> None:
    thread_id = await api.new_thread()
    run = await start_run(api, thread_id)
    workflow_id = turn_workflow_id(thread_id, run["run_id"])
    path = f"/threads/{thread_id}/runs/{run['run_id']}"

    running = (await api.http.get(path)).json()
    busy = (await api.http.get(f"/threads/{thread_id}")).json()
    api.temporal.finish(workflow_id, SUCCESS)
    done = (await api.http.get(path)).json()
    del api.temporal.statuses[workflow_id]  # a cached run needs no Temporal call
    cached = (await api.http.get(path)).json()

    assert running["status"] == "running" and running["outcome"] is None
    assert busy["status"] == "busy"
    assert done["status"] == "success"
    assert done["outcome"]["outcome"] == "completed" and done["outcome"]["kept"] == ["a"]
    assert cached["status"] == "success" and cached["outcome"] == done["outcome"]


async def test_failed_workflow_is_an_error_run_and_an_error_thread(api: Api) -> None:
    thread_id = await api.new_thread()
    run = await start_run(api, thread_id)
    error = ApplicationError("model exploded", non_retryable=True)
    api.temporal.fail(turn_workflow_id(thread_id, run["run_id"]), error)

    got = (await api.http.get(f"/threads/{thread_id}/runs/{run['run_id']}")).json()
    thread = (await api.http.get(f"/threads/{thread_id}")).json()
    joined = (await api.http.get(f"/threads/{thread_id}/runs/{run['run_id']}/join")).json()

    assert got["status"] == "error"
    assert got["outcome"]["error"] == "the turn workflow failed: model exploded"
    assert thread["status"] == "error"
    assert joined == {
        "__error__": {"error": "RunError", "message": "the turn workflow failed: model exploded"}
    }


async def test_reject_strategy_refuses_a_busy_thread(api: Api) -> None:
    thread_id = await api.new_thread()
    await start_run(api, thread_id)

    response = await api.http.post(
        f"/threads/{thread_id}/runs",
        json={
            "assistant_id": "agent",
            "input": {"messages": [USER_MESSAGE]},
            "multitask_strategy": "reject",
        },
    )

    assert response.status_code == 409
    assert response.json()["detail"] == REJECT_DETAIL
    assert len(api.temporal.starts) == 1


async def test_enqueued_run_waits_for_the_active_one_then_starts(api: Api) -> None:
    thread_id = await api.new_thread()
    first = await start_run(api, thread_id)
    second = await start_run(api, thread_id)

    assert second["status"] == "pending"
    assert len(api.temporal.starts) == 1
    api.temporal.finish(turn_workflow_id(thread_id, first["run_id"]), SUCCESS)
    await asyncio.wait_for(api.temporal.wait_for_starts(2), timeout=5)

    assert api.temporal.starts[1].arg.run_id == second["run_id"]
    listed = (await api.http.get(f"/threads/{thread_id}/runs")).json()
    assert [(r["run_id"], r["status"]) for r in listed] == [
        (second["run_id"], "running"),
        (first["run_id"], "success"),
    ]


async def test_interrupt_strategy_stops_the_active_run_before_starting(api: Api) -> None:
    api.temporal.complete_on_cancel = True
    thread_id = await api.new_thread()
    first = await start_run(api, thread_id)

    second = await start_run(api, thread_id, multitask_strategy="rollback")
    stopped = (await api.http.get(f"/threads/{thread_id}/runs/{first['run_id']}")).json()

    assert second["status"] == "running"
    [(workflow_id, reason)] = api.temporal.cancels
    assert workflow_id == turn_workflow_id(thread_id, first["run_id"])
    assert StopRequest.from_cancel_reason(reason) == StopRequest(
        action="rollback",
        actor="alice",
        reason="superseded by a new run (multitask_strategy=rollback)",
    )
    assert stopped["status"] == "interrupted"
    assert stopped["cancel_reason"] == "superseded by a new run (multitask_strategy=rollback)"


async def test_cancel_sends_the_stop_request_as_the_cancel_reason(api: Api) -> None:
    thread_id = await api.new_thread()
    run = await start_run(api, thread_id)
    path = f"/threads/{thread_id}/runs/{run['run_id']}/cancel"

    response = await api.http.post(
        path, params={"action": "rollback"}, json={"reason": "wrong question"}
    )

    assert response.status_code == 202
    assert response.json()["status"] == "running"
    [(_, reason)] = api.temporal.cancels
    assert json.loads(reason) == {
        "action": "rollback",
        "actor": "alice",
        "reason": "wrong question",
    }


async def test_cancel_wait_returns_the_outcome(api: Api) -> None:
    api.temporal.complete_on_cancel = True
    sdk = LangGraphClient(api.http)
    thread_id = await api.new_thread()
    run = await start_run(api, thread_id)

    cancel: Any = sdk.runs.cancel  # typed as returning None; the server answers with the run
    result = await cancel(thread_id, run["run_id"], wait=True, action="interrupt")

    assert result["status"] == "interrupted"
    assert result["outcome"]["outcome"] == "interrupted"
    assert result["outcome"]["stop"] == {
        "action": "interrupt",
        "actor": "alice",
        "reason": "stopped by the user",
    }


async def test_cancel_of_a_finished_run_is_409_naming_its_status(api: Api) -> None:
    thread_id = await api.new_thread()
    run = await start_run(api, thread_id)
    api.temporal.finish(turn_workflow_id(thread_id, run["run_id"]), SUCCESS)

    response = await api.http.post(f"/threads/{thread_id}/runs/{run['run_id']}/cancel")

    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Run {run['run_id']} already ended with status 'success'; there is nothing to stop."
    )


async def test_cancelling_an_enqueued_run_means_it_never_starts(api: Api) -> None:
    thread_id = await api.new_thread()
    first = await start_run(api, thread_id)
    second = await start_run(api, thread_id)
    cancel = f"/threads/{thread_id}/runs/{second['run_id']}/cancel"

    dropped = await api.http.post(cancel, params={"wait": "true", "reason": "never mind"})
    again = await api.http.post(cancel)
    api.temporal.finish(turn_workflow_id(thread_id, first["run_id"]), SUCCESS)
    joined = await api.http.get(f"/threads/{thread_id}/runs/{first['run_id']}/join")

    assert dropped.status_code == 200
    assert dropped.json()["status"] == "interrupted"
    assert dropped.json()["outcome"]["stop"]["reason"] == "never mind"
    assert again.status_code == 409
    assert "already ended with status 'interrupted'" in again.json()["detail"]
    assert joined.json() == {"messages": []}
    assert [call.arg.run_id for call in api.temporal.starts] == [first["run_id"]]


async def test_unknown_run_is_404(api: Api) -> None:
    thread_id = await api.new_thread()

    unknown = "00000000-0000-4000-8000-000000000000"
    for method, suffix in [("GET", ""), ("POST", "/cancel"), ("GET", "/join"), ("DELETE", "")]:
        response = await api.http.request(method, f"/threads/{thread_id}/runs/{unknown}{suffix}")
        assert response.status_code == 404, suffix
        assert response.json()["detail"] == f"Run {unknown} not found in thread {thread_id}"


async def test_bulk_cancel_stops_matching_runs(api: Api) -> None:
    sdk = LangGraphClient(api.http)
    thread_id = await api.new_thread()
    first = await start_run(api, thread_id)
    second = await start_run(api, thread_id)

    await sdk.runs.cancel_many(thread_id=thread_id, run_ids=[second["run_id"]])
    response = await api.http.post("/runs/cancel", json={})

    assert (await sdk.runs.get(thread_id, second["run_id"]))["status"] == "interrupted"
    assert api.temporal.cancels == []
    assert (await sdk.runs.get(thread_id, first["run_id"]))["status"] == "running"
    assert response.status_code == 422
    assert response.json()["detail"] == "Give thread_id and/or run_ids, or a status filter"


@pytest.mark.parametrize("header", ["abc", "-1"])
async def test_bad_last_event_id_is_422(api: Api, header: str) -> None:
    thread_id = await api.new_thread()
    run = await start_run(api, thread_id)

    response = await api.http.get(
        f"/threads/{thread_id}/runs/{run['run_id']}/stream", headers={"Last-Event-ID": header}
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Last-Event-ID must be an event id of this stream (`N` or `N.i`, integers >= 0), "
        f"got {header!r}"
    )


async def test_stream_route_sends_metadata_events_and_run_headers(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [
        TurnEvent(kind="tokens", data={"message_id": "m", "node": "model", "texts": ["Hi"]}),
        TurnEvent(kind="end", data={"status": "success", "outcome": "completed"}),
    ]

    async def subscribe(
        self: TemporalGateway, thread_id: str, run_id: str, from_offset: int
    ) -> AsyncIterator[Any]:
        for offset, event in enumerate(events[from_offset:], start=from_offset):
            yield SimpleNamespace(data=event, offset=offset)

    monkeypatch.setattr(TemporalGateway, "subscribe", subscribe)
    thread_id = await api.new_thread()

    response = await api.http.post(
        f"/threads/{thread_id}/runs/stream",
        json={
            "assistant_id": "agent",
            "input": {"messages": [USER_MESSAGE]},
            "stream_mode": ["messages-tuple"],
            "stream_resumable": True,
        },
    )

    run_id = api.temporal.starts[0].arg.run_id
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["content-location"] == f"/threads/{thread_id}/runs/{run_id}"
    assert response.headers["location"] == f"/threads/{thread_id}/runs/{run_id}/stream"
    blocks = [block for block in response.text.split("\n\n") if block]
    assert blocks[0] == f'event: metadata\ndata: {{"run_id":"{run_id}","attempt":1}}'
    assert blocks[1].startswith('event: messages\nid: 0.0\ndata: [{"type":"AIMessageChunk"')
    assert blocks[2] == 'event: end\nid: 1\ndata: {"status":"success","outcome":"completed"}'
    assert len(blocks) == 3


async def test_join_stream_resumes_after_last_event_id(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    offsets: list[int] = []

    async def subscribe(
        self: TemporalGateway, thread_id: str, run_id: str, from_offset: int
    ) -> AsyncIterator[Any]:
        offsets.append(from_offset)
        yield SimpleNamespace(data=TurnEvent(kind="end", data={}), offset=from_offset)

    monkeypatch.setattr(TemporalGateway, "subscribe", subscribe)
    thread_id = await api.new_thread()
    run = await start_run(api, thread_id, stream_resumable=True)
    path = f"/threads/{thread_id}/runs/{run['run_id']}/stream"

    replay = await api.http.get(path)
    resumed = await api.http.get(path, headers={"Last-Event-ID": "41"})

    assert offsets == [0, 42]
    assert replay.text.startswith("event: metadata\n")
    assert resumed.text == "event: end\nid: 42\ndata: {}\n\n"


async def test_cancel_accepts_an_empty_json_body(api: Api) -> None:
    """The chat page posts `Content-Type: application/json` with no body at all."""
    thread_id = await api.new_thread()
    run = await start_run(api, thread_id)

    response = await api.http.post(
        f"/threads/{thread_id}/runs/{run['run_id']}/cancel?action=interrupt",
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 202
    [(_, reason)] = api.temporal.cancels
    assert json.loads(reason) == {
        "action": "interrupt",
        "actor": "alice",
        "reason": "stopped by the user",
    }
