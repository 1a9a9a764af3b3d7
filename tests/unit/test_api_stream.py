"""RunEventStream: relaying a run's Workflow Stream as SSE frames, with a fake tracker."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

import api.streaming as streaming
from api.errors import TemporalUnavailableError
from api.sse import HEARTBEAT, StreamContext
from api.streaming import RunEventStream
from core.contracts import StopRequest, TurnEvent
from stores.records import RunRecord, RunView

RUN = RunRecord(
    run_id="r-1",
    thread_id="t-1",
    assistant_id="agent",
    user_id="alice",
    created_at="2026-01-01T00:00:00+00:00",
    updated_at="2026-01-01T00:00:00+00:00",
    started=True,
)
CTX = StreamContext(
    run_id="r-1", thread_id="t-1", assistant_id="agent", stream_modes=frozenset({"values"})
)
END = TurnEvent(kind="end", data={"status": "success", "outcome": "completed"})


@dataclass
class FakeTracker:
    events: list[TurnEvent] = field(default_factory=list)
    failure: Exception | None = None
    gate: asyncio.Event | None = None
    """When set, the subscription blocks after its events until the test opens the gate."""
    final: RunView | None = None

    async def wait_started(self, run: RunRecord) -> RunRecord:
        return run

    async def subscribe(self, run: RunRecord, from_offset: int) -> AsyncIterator[Any]:
        for offset, event in enumerate(self.events[from_offset:], start=from_offset):
            yield SimpleNamespace(data=event, offset=offset)
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure

    async def refresh(self, run: RunRecord) -> RunRecord:
        return run

    async def view(self, run: RunRecord) -> RunView:
        return self.final or RunView(record=run, status="running")


@dataclass
class FakeRuns:
    tracker: FakeTracker
    cancelled: list[tuple[str, StopRequest]] = field(default_factory=list)

    def cancel_in_background(self, run: RunRecord, stop: StopRequest) -> None:
        self.cancelled.append((run.run_id, stop))


def make_stream(runs: FakeRuns, **kwargs: Any) -> RunEventStream:
    return RunEventStream(runs, RUN, CTX, **kwargs)  # type: ignore[arg-type]


async def collect(stream: RunEventStream) -> list[str]:
    return [frame async for frame in stream.frames()]


def sse_blocks(frames: list[str]) -> list[str]:
    """One string per SSE event, however the frames grouped them."""
    return [block + "\n\n" for block in "".join(frames).split("\n\n") if block]


async def test_events_are_relayed_until_end() -> None:
    values = TurnEvent(kind="values", data={"messages": []})
    token = TurnEvent(kind="tokens", data={"message_id": "m", "node": "model", "texts": ["x"]})
    runs = FakeRuns(FakeTracker(events=[values, token, END, values]))

    frames = await collect(make_stream(runs))

    assert frames == [
        'event: metadata\ndata: {"run_id":"r-1","attempt":1}\n\n',
        'event: values\ndata: {"messages":[]}\n\n',
        'event: end\ndata: {"status":"success","outcome":"completed"}\n\n',
    ]
    assert runs.cancelled == []


async def test_resume_skips_metadata_and_starts_at_the_offset() -> None:
    values = TurnEvent(kind="values", data={"n": 1})
    runs = FakeRuns(FakeTracker(events=[values, values, END]))

    frames = await collect(make_stream(runs, from_offset=2, with_metadata=False))

    assert frames == ['event: end\ndata: {"status":"success","outcome":"completed"}\n\n']


async def test_resume_inside_a_token_batch_sends_only_the_unseen_tokens() -> None:
    values = TurnEvent(kind="values", data={"n": 1})
    tokens = TurnEvent(
        kind="tokens", data={"message_id": "m", "node": "model", "texts": ["a", "b", "c"]}
    )
    runs = FakeRuns(FakeTracker(events=[values, tokens, END]))

    context = dataclasses.replace(CTX, stream_modes=frozenset({"messages-tuple"}))
    stream = RunEventStream(
        runs,  # type: ignore[arg-type]
        RUN,
        context,
        from_offset=1,
        skip_through=0,
        with_metadata=False,
    )
    frames = sse_blocks(await collect(stream))

    contents = [f.split('"content":"')[1].split('"')[0] for f in frames if "messages" in f]
    assert contents == ["b", "c"]
    assert frames[-1].startswith("event: end")


async def test_stream_that_stops_without_end_sends_error_then_end() -> None:
    final = RunView(record=RUN, status="error")
    runs = FakeRuns(FakeTracker(events=[], final=final))

    frames = sse_blocks(await collect(make_stream(runs, with_metadata=False)))

    assert [frame.split("\n")[0] for frame in frames] == ["event: error", "event: end"]
    expected = "the turn's event stream ended without an end event (run error)"
    assert f'"message":"{expected}"' in frames[0]
    assert '"status":"error"' in frames[1]


async def test_temporal_failure_mid_stream_is_reported_to_the_client() -> None:
    failure = TemporalUnavailableError("Temporal is unreachable at x: down")
    runs = FakeRuns(FakeTracker(events=[], failure=failure))

    frames = sse_blocks(await collect(make_stream(runs, with_metadata=False)))

    assert frames[0] == (
        "event: error\ndata: "
        '{"error":"RunEndedUnexpectedly","message":"Temporal is unreachable at x: down"}\n\n'
    )
    assert frames[1].startswith("event: end\n")


async def test_silence_is_filled_with_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "HEARTBEAT_SECONDS", 0.01)
    gate = asyncio.Event()
    tracker = FakeTracker(events=[], gate=gate)
    frames = make_stream(FakeRuns(tracker), with_metadata=False).frames()

    first = await anext(frames)
    gate.set()
    rest = sse_blocks([frame async for frame in frames])

    assert first == HEARTBEAT
    assert rest[-1].startswith("event: end\n")


async def test_disconnect_before_end_cancels_when_asked() -> None:
    stop = StopRequest(action="interrupt", actor="alice", reason="client disconnected")
    gate = asyncio.Event()
    values = TurnEvent(kind="values", data={})
    runs = FakeRuns(FakeTracker(events=[values], gate=gate))
    frames = make_stream(runs, cancel_on_disconnect=stop, with_metadata=False).frames()

    assert (await anext(frames)).startswith("event: values")
    await frames.aclose()

    assert runs.cancelled == [("r-1", stop)]


async def test_disconnect_without_cancel_leaves_the_run_alone() -> None:
    gate = asyncio.Event()
    runs = FakeRuns(FakeTracker(events=[TurnEvent(kind="values", data={})], gate=gate))
    frames = make_stream(runs, with_metadata=False).frames()

    await anext(frames)
    await frames.aclose()

    assert runs.cancelled == []


async def test_run_stopped_while_enqueued_ends_with_its_outcome() -> None:
    outcome: dict[str, Any] = {
        "status": "interrupted",
        "outcome": "interrupted",
        "stop": {"action": "interrupt", "actor": "bob", "reason": "no"},
        "kept": [],
        "undone": [],
        "not_undone": [],
        "error": None,
    }
    dropped = RunRecord(
        **{**RUN.__dict__, "started": False, "status": "interrupted", "outcome": outcome}
    )
    tracker = FakeTracker()
    tracker.wait_started = lambda run: _return(dropped)  # type: ignore[method-assign]

    frames = await collect(make_stream(FakeRuns(tracker), with_metadata=False))

    assert len(frames) == 1
    assert frames[0].startswith('event: end\ndata: {"status":"interrupted"')
    assert '"actor":"bob"' in frames[0]


async def _return(value: Any) -> Any:
    return value
