"""Stop over HTTP with a fake Temporal: a running run's turn is cancelled (its reason naming
who stopped it, how and why) while the stop notice goes out on the broker; a run that has
not started is dropped by the thread workflow; an ended run cannot be stopped; a stop
Temporal could not take stays recorded and is handed over when Temporal is back."""

from __future__ import annotations

import json
from typing import Any

from langgraph_sdk.client import LangGraphClient

from api.errors import TemporalUnavailableError
from core.contracts import StopRequest
from tests.fixtures.eventually import eventually
from tests.unit.api_harness import Api

STOP = StopRequest(action="interrupt", actor="alice", reason="stopped by the user")


async def _notices(api: Api, run_id: str) -> list[bytes]:
    """Every stop notice the broker carries for the run from now on."""
    heard: list[bytes] = []
    await api.broker.on_stop(run_id, heard.append)
    return heard


async def test_cancel_cancels_the_turn_and_announces_the_stop(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    heard = await _notices(api, run_id)

    response = await api.http.post(
        api.run_path(thread_id, run_id, "/cancel"),
        params={"action": "rollback"},
        json={"reason": "wrong question"},
    )

    assert response.status_code == 202
    assert response.json()["status"] == "running"
    assert response.json()["cancel_reason"] == "wrong question"
    stop = StopRequest(action="rollback", actor="alice", reason="wrong question")
    assert api.gateway.turn_cancels == [(thread_id, run_id, stop)]
    assert api.gateway.stop_signals == [(thread_id, run_id, stop)]
    assert api.gateway.pending_cancels == []
    await eventually(lambda: heard, within=5, what="the stop notice")
    assert json.loads(heard[0]) == {"action": "rollback", "actor": "alice"}
    stored = (await api.http.get(api.run_path(thread_id, run_id))).json()
    assert stored["cancel_reason"] == "wrong question"


async def test_cancel_reason_from_the_query_wins_over_the_body(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)

    await api.http.post(
        api.run_path(thread_id, run_id, "/cancel"), params={"reason": "q"}, json={"reason": "b"}
    )

    assert [stop.reason for _, _, stop in api.gateway.turn_cancels] == ["q"]


async def test_cancel_accepts_an_empty_json_body(api: Api) -> None:
    """The chat page posts `Content-Type: application/json` with no body at all."""
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)

    response = await api.http.post(
        api.run_path(thread_id, run_id, "/cancel?action=interrupt"),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 202
    assert api.gateway.turn_cancels == [(thread_id, run_id, STOP)]


async def test_cancel_wait_returns_the_outcome(api: Api) -> None:
    api.gateway.on_cancel_turn = api.worker.ends_on_cancel()
    sdk = LangGraphClient(api.http)
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)

    cancel: Any = sdk.runs.cancel  # typed as returning None; the server answers with the run
    result = await cancel(thread_id, run_id, wait=True, action="interrupt")

    assert result["status"] == "interrupted"
    assert result["cancel_reason"] == "stopped by the user"
    assert result["outcome"]["outcome"] == "interrupted"
    assert result["outcome"]["stop"] == {
        "action": "interrupt",
        "actor": "alice",
        "reason": "stopped by the user",
    }


async def test_cancel_of_an_ended_run_is_409_naming_its_status(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    await api.worker.finish(thread_id, run_id)

    response = await api.http.post(api.run_path(thread_id, run_id, "/cancel"))

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Run {run_id} already ended with status 'success'; there is nothing to stop."
    }
    assert api.gateway.turn_cancels == []


async def test_a_run_that_has_not_started_is_dropped_and_never_starts(api: Api) -> None:
    thread_id = await api.new_thread()
    created = await api.http.post(
        f"/threads/{thread_id}/runs",
        json={"assistant_id": "agent", "input": {"messages": ["queued"]}},
    )
    run_id = created.json()["run_id"]
    api.gateway.pending_fates = ["dropped"]
    api.gateway.on_cancel_pending = api.worker.ends_on_cancel()  # the thread's end_run
    cancel = api.run_path(thread_id, run_id, "/cancel")

    dropped = await api.http.post(cancel, params={"wait": "true", "reason": "never mind"})
    again = await api.http.post(cancel)

    assert dropped.status_code == 200
    assert dropped.json()["status"] == "interrupted"
    assert dropped.json()["outcome"]["stop"]["reason"] == "never mind"
    stop = StopRequest(action="interrupt", actor="alice", reason="never mind")
    assert api.gateway.pending_cancels == [(thread_id, run_id, stop)]
    assert api.gateway.stop_signals == []
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"Run {run_id} already ended with status 'interrupted'; there is nothing to stop."
    )


async def test_a_run_that_starts_between_the_two_calls_is_cancelled_as_running(
    api: Api,
) -> None:
    thread_id = await api.new_thread()
    created = await api.http.post(
        f"/threads/{thread_id}/runs",
        json={"assistant_id": "agent", "input": {"messages": ["starting"]}},
    )
    run_id = created.json()["run_id"]
    api.gateway.pending_fates = ["running"]  # and its turn is open from then on
    heard = await _notices(api, run_id)

    response = await api.http.post(api.run_path(thread_id, run_id, "/cancel"))

    assert response.status_code == 202
    assert [r for _, r, _ in api.gateway.turn_cancels] == [run_id, run_id]
    assert api.gateway.stop_signals == [(thread_id, run_id, STOP)]
    await eventually(lambda: heard, within=5, what="the stop notice")


async def test_a_run_is_stopped_once_a_second_action_is_409_the_same_one_repeats(
    api: Api,
) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    cancel = api.run_path(thread_id, run_id, "/cancel")

    first = await api.http.post(cancel, params={"action": "interrupt"})
    other = await api.http.post(cancel, params={"action": "rollback"})
    same = await api.http.post(cancel, params={"action": "interrupt", "reason": "again"})

    assert first.status_code == 202 and same.status_code == 202
    assert other.status_code == 409
    assert other.json()["detail"].startswith(
        f"Run {run_id} is already being stopped with action 'interrupt' (by alice); a run is "
        "stopped once, so 'rollback' cannot apply."
    )
    # Asking Temporal again is harmless and repairs a first attempt that failed half-way;
    # the stop that stands is the first one.
    assert [stop for _, _, stop in api.gateway.turn_cancels] == [STOP, STOP]


async def test_another_users_stop_is_404_and_leaves_the_run_stoppable_by_its_owner(
    api: Api,
) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    cancel = api.run_path(thread_id, run_id, "/cancel")

    bobs = await api.http.post(cancel, params={"action": "rollback"}, headers={"x-user-id": "bob"})
    owners = await api.http.post(cancel, params={"action": "interrupt"})

    assert bobs.status_code == 404
    assert owners.status_code == 202 and owners.json()["cancel_reason"] == STOP.reason
    assert [stop for _, _, stop in api.gateway.turn_cancels] == [STOP]


async def test_bulk_cancel_stops_the_matching_active_runs_of_the_caller_only(api: Api) -> None:
    sdk = LangGraphClient(api.http)
    thread_id = await api.new_thread()
    first = await api.start_run(thread_id)
    second = await api.start_run(thread_id)
    ended = await api.start_run(thread_id)
    await api.worker.finish(thread_id, ended)
    bob = {"x-user-id": "bob"}
    await api.http.post("/threads", json={"thread_id": "bobs"}, headers=bob)
    bobs_run = await api.http.post(
        "/threads/bobs/runs",
        json={"assistant_id": "agent", "input": {"messages": ["mine"]}},
        headers=bob,
    )

    await sdk.runs.cancel_many(thread_id=thread_id, run_ids=[second])
    by_status = await api.http.post("/runs/cancel", json={"status": "pending"})
    everything = await api.http.post("/runs/cancel", json={"status": "all"})

    assert [r for _, r, _ in api.gateway.turn_cancels[:1]] == [second]
    assert by_status.json() == {"cancelled": []}  # alice has no pending run; bob's is his
    assert everything.status_code == 200
    assert everything.json() == {"cancelled": [first, second]}
    cancelled = {r for _, r, _ in api.gateway.turn_cancels}
    assert cancelled == {first, second}
    assert bobs_run.json()["run_id"] not in cancelled


async def test_bulk_cancel_needs_a_filter(api: Api) -> None:
    response = await api.http.post("/runs/cancel", json={})

    assert response.status_code == 422
    assert response.json() == {"detail": "Give thread_id and/or run_ids, or a status filter"}


async def test_bulk_cancel_skips_a_run_whose_stop_conflicts(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    await api.http.post(api.run_path(thread_id, run_id, "/cancel"), params={"action": "rollback"})

    response = await api.http.post(
        "/runs/cancel", params={"action": "interrupt"}, json={"thread_id": thread_id}
    )

    assert response.status_code == 200
    assert response.json() == {"cancelled": []}


async def test_the_stop_notice_carries_no_reason(api: Api) -> None:
    """The notice says what and who, never why: the reason lives in Temporal's history."""
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    heard = await _notices(api, run_id)

    await api.http.post(api.run_path(thread_id, run_id, "/cancel"), json={"reason": "secret"})

    await eventually(lambda: heard, within=5, what="the stop notice")
    assert json.loads(heard[0]) == {"action": "interrupt", "actor": "alice"}


async def test_the_notice_goes_out_while_temporal_is_still_recording_the_stop(api: Api) -> None:
    """The fast path does not wait for Temporal's answer: here Temporal answers only once
    the notice has been heard, which deadlocks (and times out) if the notice came after."""
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    heard = await _notices(api, run_id)

    async def record_after_the_notice(*_: object) -> None:
        await eventually(lambda: heard, within=5, what="the notice before Temporal's answer")

    api.gateway.on_cancel_turn = record_after_the_notice
    response = await api.http.post(api.run_path(thread_id, run_id, "/cancel"))

    assert response.status_code == 202
    assert api.gateway.turn_cancels == [(thread_id, run_id, STOP)]


async def test_a_stop_temporal_could_not_take_stays_recorded_and_is_handed_over_later(
    api: Api,
) -> None:
    """The notice may already have stopped the call, so the stop is not withdrawn: the
    caller hears 503, and the API hands the stop to Temporal once it is back."""
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    heard = await _notices(api, run_id)
    api.gateway.refuse = TemporalUnavailableError("Temporal is unreachable at x:1: down")

    response = await api.http.post(api.run_path(thread_id, run_id, "/cancel"))
    api.gateway.refuse = None

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"].startswith("Temporal is unreachable at x:1: down. ")
    assert "The stop is recorded" in response.json()["detail"]
    await eventually(lambda: heard, within=5, what="the stop notice")
    stored = (await api.http.get(api.run_path(thread_id, run_id))).json()
    assert stored["status"] == "running" and stored["cancel_reason"] == STOP.reason
    await eventually(
        lambda: api.gateway.turn_cancels == [(thread_id, run_id, STOP)],
        within=10,
        what="the stop handed to Temporal once it is back",
    )
    await eventually(lambda: api.gateway.stop_signals, within=5, what="the escalation armed")


async def test_repeating_a_stop_temporal_could_not_take_delivers_it(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    api.gateway.refuse = TemporalUnavailableError("Temporal is unreachable at x:1: down")
    first = await api.http.post(api.run_path(thread_id, run_id, "/cancel"))
    api.gateway.refuse = None

    again = await api.http.post(api.run_path(thread_id, run_id, "/cancel"))

    assert (first.status_code, again.status_code) == (503, 202)
    assert (thread_id, run_id, STOP) in api.gateway.turn_cancels
    assert again.json()["cancel_reason"] == STOP.reason
