"""The call watch (activities/call_watch.py) without a worker: Temporal's ActivityEnvironment
runs each call, a real broker carries the stop notices. A call stops for the user's Stop
(notice or cancel), for a worker shutdown (not a Stop) or a stalled stream, and a stop a
library swallowed is delivered again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from temporalio.activity import ActivityCancellationDetails
from temporalio.testing import ActivityEnvironment

import activities.call_watch as call_watch
from activities.call_watch import StopCause, cancel_cause, watched_call
from broker import Broker

NOTICE = b'{"action":"interrupt","actor":"alice"}'


@pytest.fixture(autouse=True)
def quick_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch checks every HEARTBEAT_SECONDS (1 s): tests tick faster."""
    monkeypatch.setattr(call_watch, "HEARTBEAT_SECONDS", 0.02)


def _run_id() -> str:
    return str(uuid.uuid4())


async def _notices_delivered(broker: Broker) -> None:
    """Returns once every stop notice published so far has reached the listeners: notices
    arrive in order on one subscription, so a last one of our own marks the point."""
    marker, heard = _run_id(), asyncio.Event()
    listener = await broker.on_stop(marker, lambda _payload: heard.set())
    try:
        await broker.publish_stop(marker, NOTICE)
        await asyncio.wait_for(heard.wait(), 5)
    finally:
        await listener.close()


async def _watched(
    broker: Broker,
    run_id: str,
    body: Callable[[call_watch.CallWatch], Awaitable[str]],
    *,
    idle_timeout: float | None = None,
) -> tuple[str, StopCause]:
    """An activity body as the model and tool activities write it: the stop lands inside
    the watched block and is caught outside it."""
    watch = None
    try:
        async with watched_call(broker, run_id, idle_timeout=idle_timeout) as watch:
            return await body(watch), cancel_cause(watch)
    except asyncio.CancelledError:
        return "stopped", cancel_cause(watch)


async def test_the_stop_notice_stops_the_call_at_once_as_a_user_stop(broker: Broker) -> None:
    run_id = _run_id()
    inside = asyncio.Event()

    async def forever(_watch: call_watch.CallWatch) -> str:
        inside.set()
        await asyncio.Event().wait()
        return "ran to the end"

    call = asyncio.create_task(ActivityEnvironment().run(_watched, broker, run_id, forever))
    await asyncio.wait_for(inside.wait(), 5)
    await broker.publish_stop(run_id, NOTICE)

    assert await asyncio.wait_for(call, 5) == ("stopped", StopCause.USER)


async def test_a_stop_notice_for_another_run_changes_nothing(broker: Broker) -> None:
    run_id = _run_id()
    noticed = asyncio.Event()

    async def briefly(_watch: call_watch.CallWatch) -> str:
        await broker.publish_stop(_run_id(), NOTICE)
        await broker.publish_stop(run_id + "-other", NOTICE)
        await _notices_delivered(broker)
        noticed.set()
        return "answer"

    result = await asyncio.wait_for(ActivityEnvironment().run(_watched, broker, run_id, briefly), 5)

    assert noticed.is_set()
    assert result == ("answer", StopCause.NONE)


async def test_a_swallowed_cancel_is_delivered_again(broker: Broker) -> None:
    """Python 3.11's asyncio.wait_for can swallow the SDK's one cancel; the watch repeats it."""
    env = ActivityEnvironment()
    swallowed: list[int] = []
    streaming = asyncio.Event()

    async def swallowing_stream(_watch: call_watch.CallWatch) -> str:
        for token in range(1000):
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(token)  # lost: the stream would go on to the end
            if token == 5:
                streaming.set()
        return "ran to the end"

    call = asyncio.create_task(env.run(_watched, broker, _run_id(), swallowing_stream))
    await asyncio.wait_for(streaming.wait(), 5)
    env.cancel()

    assert await asyncio.wait_for(call, 5) == ("stopped", StopCause.USER)
    assert swallowed, "the first cancel should have been swallowed by the fake library"


async def test_a_worker_shutdown_is_not_a_user_stop(broker: Broker) -> None:
    env = ActivityEnvironment()
    inside = asyncio.Event()

    async def forever(_watch: call_watch.CallWatch) -> str:
        inside.set()
        await asyncio.Event().wait()
        return "ran to the end"

    call = asyncio.create_task(env.run(_watched, broker, _run_id(), forever))
    await asyncio.wait_for(inside.wait(), 5)
    env.cancel(ActivityCancellationDetails(worker_shutdown=True))

    assert await asyncio.wait_for(call, 5) == ("stopped", StopCause.SHUTDOWN)


async def test_a_stream_silent_past_its_idle_timeout_stops_as_stalled(broker: Broker) -> None:
    async def silent(_watch: call_watch.CallWatch) -> str:
        await asyncio.Event().wait()
        return "ran to the end"

    result = await asyncio.wait_for(
        ActivityEnvironment().run(_watched, broker, _run_id(), silent, idle_timeout=0.1), 5
    )

    assert result == ("stopped", StopCause.STALLED)


async def test_a_stream_that_keeps_making_progress_is_not_stalled(broker: Broker) -> None:
    async def chatty(watch: call_watch.CallWatch) -> str:
        # 1.2 s in all, three idle timeouts; the gaps are a twentieth of the timeout so
        # that a busy machine's loop stalls cannot pass for silence.
        for _ in range(60):
            await asyncio.sleep(0.02)
            watch.progress()
        return "answer"

    result = await asyncio.wait_for(
        ActivityEnvironment().run(_watched, broker, _run_id(), chatty, idle_timeout=0.4), 10
    )

    assert result == ("answer", StopCause.NONE)


async def test_heartbeats_are_recorded_while_the_call_waits(broker: Broker) -> None:
    env = ActivityEnvironment()
    beats: list[object] = []
    three = asyncio.Event()

    def on_heartbeat(*details: object) -> None:
        beats.append(details)
        if len(beats) >= 3:
            three.set()

    env.on_heartbeat = on_heartbeat

    async def waits_for_three_beats(_watch: call_watch.CallWatch) -> str:
        await three.wait()  # nothing but the watch heartbeats meanwhile
        return "done"

    result = await asyncio.wait_for(env.run(_watched, broker, _run_id(), waits_for_three_beats), 5)

    assert result == ("done", StopCause.NONE)
    assert len(beats) >= 3


async def test_after_the_block_a_stop_notice_no_longer_reaches_the_call(broker: Broker) -> None:
    run_id = _run_id()

    async def quick(_watch: call_watch.CallWatch) -> str:
        return "answer"

    async def call_then_more_work() -> str:
        result, _ = await _watched(broker, run_id, quick)
        await broker.publish_stop(run_id, NOTICE)
        await _notices_delivered(broker)  # a late notice, delivered: it must not cancel
        return result

    assert await asyncio.wait_for(ActivityEnvironment().run(call_then_more_work), 5) == "answer"
