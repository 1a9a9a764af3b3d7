"""A run's SSE stream: its live events from the real broker, relayed to one client, resumed
by broker sequence, kept alive by heartbeat comments, and always ended by `end` (from the
record when the live events are gone or cannot come)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import api.streaming as streaming
from api.sse import HEARTBEAT, SseMapper, StreamContext
from api.streaming import RunEventStream
from broker import Broker
from core.contracts import StopRequest
from core.live import Live, encode_json
from devstack.asgi import serve_app
from tests.fixtures.eventually import eventually
from tests.fixtures.nats import settings_for
from tests.unit.api_harness import Api, completed_outcome

TOKEN = b'[{"type":"AIMessageChunk","content":"Hi","id":"ai-1"},{"langgraph_node":"model"}]'
END = completed_outcome()


def blocks(text: str) -> list[str]:
    return [block for block in text.split("\n\n") if block]


async def _ended_run(api: Api, thread_id: str, **body: Any) -> tuple[str, list[int]]:
    """A run with a token, a values event and its end on the broker; (id, sequences)."""
    run_id = await api.start_run(thread_id, **body)
    seqs = [
        await api.broker.publish(run_id, encode_json(Live.MESSAGES, TOKEN)),
        await api.worker.publish(run_id, Live.VALUES, {"values": {"messages": []}}),
        await api.worker.publish(run_id, Live.END, END),
    ]
    await api.worker.finish(thread_id, run_id, END, publish_end=False)
    return run_id, seqs


def _stream(api: Api, run_id: str, thread_id: str, modes: set[str], **kwargs: Any) -> Any:
    """The stream object a route builds, for tests that drive it frame by frame."""
    services = api.app.state.services
    ctx = StreamContext(
        run_id=run_id, thread_id=thread_id, assistant_id="agent", stream_modes=frozenset(modes)
    )
    broker = kwargs.pop("broker", services.broker)
    record = kwargs.pop("record")
    mapper = SseMapper(ctx, services.values)
    return RunEventStream(services.runs, broker, services.thread_store, record, mapper, **kwargs)


async def test_stream_route_sends_metadata_tokens_and_end_with_run_headers(api: Api) -> None:
    thread_id = await api.new_thread()
    body = {
        "assistant_id": "agent",
        "input": {"messages": ["hi"]},
        "stream_mode": ["messages-tuple"],
        "stream_resumable": True,
    }
    streaming_request = asyncio.create_task(
        api.http.post(f"/threads/{thread_id}/runs/stream", json=body)
    )
    [run] = await eventually(
        lambda: api.records.list_runs(thread_id), within=5, what="the run was admitted"
    )
    token_seq = await api.broker.publish(run.run_id, encode_json(Live.MESSAGES, TOKEN))
    end_seq = await api.worker.publish(run.run_id, Live.END, END)

    response = await asyncio.wait_for(streaming_request, 10)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    location = f"/threads/{thread_id}/runs/{run.run_id}"
    assert response.headers["content-location"] == location
    assert response.headers["location"] == f"{location}/stream"
    assert response.headers["cache-control"] == "no-store"
    assert blocks(response.text) == [
        # Published at creation, before anything of the run: with an id, like every event.
        f'event: metadata\nid: {token_seq - 1}\ndata: {{"run_id":"{run.run_id}","attempt":1}}',
        f"event: messages\nid: {token_seq}\ndata: {TOKEN.decode()}",
        f"event: end\nid: {end_seq}\ndata: " + response.text.split("data: ")[-1].strip(),
    ]
    assert '"outcome":"completed"' in blocks(response.text)[-1]


async def test_streams_default_to_values_and_are_not_resumable(api: Api) -> None:
    thread_id = await api.new_thread()
    request = asyncio.create_task(
        api.http.post(
            f"/threads/{thread_id}/runs/stream",
            json={"assistant_id": "agent", "input": {"messages": ["hi"]}},
        )
    )
    [run] = await eventually(lambda: api.records.list_runs(thread_id), within=5, what="run")
    await api.broker.publish(run.run_id, encode_json(Live.MESSAGES, TOKEN))
    await api.worker.publish(run.run_id, Live.VALUES, {"values": {"messages": []}})
    await api.worker.publish(run.run_id, Live.END, END)

    response = await asyncio.wait_for(request, 10)

    assert "location" not in response.headers
    assert [b.split("\n")[0] for b in blocks(response.text)] == [
        "event: metadata",
        "event: values",
        "event: end",
    ]
    assert "\nid: " not in response.text


async def test_join_replays_a_finished_run_from_the_start(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id, _ = await _ended_run(api, thread_id, stream_mode=["messages-tuple", "values"])

    replay = await api.http.get(api.run_path(thread_id, run_id, "/stream"))
    narrowed = await api.http.get(
        api.run_path(thread_id, run_id, "/stream"), params={"stream_mode": "messages-tuple"}
    )

    kinds = [b.split("\n")[0] for b in blocks(replay.text)]
    assert kinds == ["event: metadata", "event: messages", "event: values", "event: end"]
    assert [b.split("\n")[0] for b in blocks(narrowed.text)] == [
        "event: metadata",
        "event: messages",
        "event: end",
    ]


@pytest.mark.parametrize(("header", "skipped"), [("-1", 0), ("first", 1), ("second", 2)])
async def test_join_resumes_after_last_event_id_without_metadata(
    api: Api, header: str, skipped: int
) -> None:
    thread_id = await api.new_thread()
    run_id, seqs = await _ended_run(
        api, thread_id, stream_mode=["messages-tuple", "values"], stream_resumable=True
    )
    last_id = {"-1": "-1", "first": str(seqs[0]), "second": str(seqs[1])}[header]

    resumed = await api.http.get(
        api.run_path(thread_id, run_id, "/stream"), headers={"Last-Event-ID": last_id}
    )

    ids = [int(b.split("\n")[1].removeprefix("id: ")) for b in blocks(resumed.text)]
    metadata = [seqs[0] - 1] if header == "-1" else []  # -1: from the very start
    assert ids == metadata + seqs[skipped:]
    assert blocks(resumed.text)[-1].startswith("event: end\n")


@pytest.mark.parametrize("offset", [0, 1, 1000])
async def test_resuming_at_or_past_the_end_sends_nothing_more(api: Api, offset: int) -> None:
    thread_id = await api.new_thread()
    run_id, seqs = await _ended_run(api, thread_id, stream_resumable=True)

    resumed = await api.http.get(
        api.run_path(thread_id, run_id, "/stream"),
        headers={"Last-Event-ID": str(seqs[-1] + offset)},
    )

    assert resumed.status_code == 200
    assert resumed.text == ""


@pytest.mark.parametrize("header", ["abc", "1.5", "-2", "²", "9" * 20])
async def test_bad_last_event_id_is_422(api: Api, header: str) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)

    response = await api.http.get(  # HTTP headers are Latin-1: "²" is one byte on the wire
        api.run_path(thread_id, run_id, "/stream"),
        headers=[(b"Last-Event-ID", header.encode("latin-1"))],
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Last-Event-ID must be an event id of this stream (an integer from 0 to "
        f"{2**63 - 1}, or -1 for the start), got {header!r}"
    )


async def test_join_with_an_unknown_stream_mode_is_422_naming_it(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)

    response = await api.http.get(
        api.run_path(thread_id, run_id, "/stream"), params={"stream_mode": ["values", "bogus"]}
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "stream_mode 'bogus' is not supported; supported: values, updates, messages-tuple, "
        "messages, custom, events, tasks, checkpoints, debug"
    )


async def test_events_after_end_are_not_relayed(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id, _ = await _ended_run(api, thread_id, stream_mode=["values"])
    await api.worker.publish(run_id, Live.VALUES, {"values": {"messages": ["late"]}})

    replay = await api.http.get(api.run_path(thread_id, run_id, "/stream"))

    assert "late" not in replay.text
    assert blocks(replay.text)[-1].startswith("event: end\n")


async def test_silence_is_filled_with_heartbeat_comments(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streaming, "HEARTBEAT_SECONDS", 0.05)
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    record = await api.worker.run(thread_id, run_id)
    frames = _stream(api, run_id, thread_id, {"values"}, record=record).frames()

    # A heartbeat may come before `metadata` on a busy machine: the subscription is slower
    # than the 50 ms timer. Once `metadata` is in, nothing is published until `finish`, so
    # the next frame can only be a heartbeat.
    first = await anext(frames)
    while first == HEARTBEAT:
        first = await anext(frames)
    second = await anext(frames)
    await api.worker.finish(thread_id, run_id)
    rest = b"".join([frame async for frame in frames])

    assert first.startswith(b"event: metadata\n")
    assert second == HEARTBEAT == b": heartbeat\n\n"
    assert rest.replace(HEARTBEAT, b"").startswith(b"event: end\n")


async def test_a_run_that_ended_without_live_events_ends_from_its_record(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its events expired (retention), or it was dropped before it ever started."""
    monkeypatch.setattr(streaming, "HEARTBEAT_SECONDS", 0.05)
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    stop = StopRequest(action="interrupt", actor="bob", reason="no")
    answer = {"type": "ai", "content": "kept", "id": "ai-9"}
    outcome = {**END, "status": "interrupted", "outcome": "interrupted", "stop": stop.__dict__}
    await api.worker.finish(thread_id, run_id, outcome, messages=[answer], publish_end=False)

    response = await api.http.get(api.run_path(thread_id, run_id, "/stream"))

    kinds = [b.split("\n")[0] for b in blocks(response.text)]
    assert kinds == ["event: metadata", "event: values", "event: end"]
    assert '"content":"kept"' in blocks(response.text)[1]
    assert '"status":"interrupted"' in blocks(response.text)[2]
    assert '"actor":"bob"' in blocks(response.text)[2]


async def test_with_the_broker_down_the_stream_waits_for_the_record_and_ends(api: Api) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    record = await api.worker.run(thread_id, run_id)
    down = Broker(settings_for("nats://127.0.0.1:1"))  # never connected: unavailable
    frames = _stream(api, run_id, thread_id, {"values"}, record=record, broker=down).frames()

    assert (await anext(frames)).startswith(b"event: metadata\n")
    ending = asyncio.create_task(anext(frames))
    await api.worker.finish(thread_id, run_id, publish_end=False)
    text = await asyncio.wait_for(ending, 10) + b"".join([f async for f in frames])

    assert text.startswith(b'event: values\ndata: {"messages":[]}\n\nevent: end\n')
    assert b'"status":"success"' in text


@pytest.mark.parametrize("cancel", [True, False])
async def test_a_client_going_away_stops_the_run_only_if_asked(api: Api, cancel: bool) -> None:
    thread_id = await api.new_thread()
    run_id = await api.start_run(thread_id)
    await api.worker.publish(run_id, Live.VALUES, {"values": {"messages": []}})
    record = await api.worker.run(thread_id, run_id)
    stop = StopRequest(action="interrupt", actor="alice", reason="client disconnected")
    frames = _stream(
        api, run_id, thread_id, {"values"}, record=record, with_metadata=False,
        cancel_on_disconnect=stop if cancel else None,
    ).frames()  # fmt: skip

    assert (await anext(frames)).startswith(b"event: metadata\n")  # from the broker
    assert (await anext(frames)).startswith(b"event: values\n")
    await frames.aclose()

    if cancel:
        await eventually(lambda: api.gateway.turn_cancels, within=5, what="the stop")
        assert api.gateway.turn_cancels == [(thread_id, run_id, stop)]
    else:
        assert api.gateway.turn_cancels == []


async def test_on_disconnect_cancel_stops_the_run_when_the_http_client_leaves(api: Api) -> None:
    served = await serve_app(api.app, lifespan="off", name="api-under-test")
    thread_id = await api.new_thread()
    body = {"assistant_id": "agent", "input": {"messages": ["hi"]}, "on_disconnect": "cancel"}
    try:
        async with (
            httpx.AsyncClient(base_url=served.url, headers={"x-user-id": "alice"}) as http,
            http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    break  # the metadata event: the run exists; now hang up
        stops = await eventually(lambda: api.gateway.turn_cancels, within=5, what="the stop")
    finally:
        await served.stop()

    [(stopped_thread, _, stop)] = stops
    assert stopped_thread == thread_id
    assert stop == StopRequest(action="interrupt", actor="alice", reason="client disconnected")
