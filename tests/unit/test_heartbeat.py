"""The heartbeat watchdog: a cancel swallowed by a library below the activity is delivered
again, so a stop can never be lost (seen with Python 3.11's asyncio.wait_for)."""

from __future__ import annotations

import asyncio

from temporalio.testing import ActivityEnvironment

from activities.heartbeat import keep_heartbeating


async def _swallowing_stream(
    progress: list[int], swallowed: list[int], streaming: asyncio.Event
) -> str:
    """Streams 'tokens' and swallows the first cancel, like the library bug does."""
    try:
        async with keep_heartbeating():
            for token in range(1000):
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError:
                    if swallowed:
                        raise
                    swallowed.append(token)  # lost: the stream would go on to the end
                progress.append(token)
                if token == 5:
                    streaming.set()
    except asyncio.CancelledError:
        return "stopped"
    return "ran to the end"


async def test_a_swallowed_cancel_is_delivered_again() -> None:
    env = ActivityEnvironment()
    progress: list[int] = []
    swallowed: list[int] = []
    streaming = asyncio.Event()
    run = asyncio.create_task(env.run(_swallowing_stream, progress, swallowed, streaming))
    await asyncio.wait_for(streaming.wait(), 5)
    env.cancel()
    result = await asyncio.wait_for(run, 5)

    assert result == "stopped"
    assert swallowed, "the first cancel should have been swallowed by the fake library"
    assert len(progress) < 100  # stopped within a few ticks of the swallowed cancel


async def test_heartbeats_are_recorded_while_waiting() -> None:
    env = ActivityEnvironment()
    beats: list[object] = []
    three = asyncio.Event()

    def on_heartbeat(*details: object) -> None:
        beats.append(details)
        if len(beats) >= 3:
            three.set()

    env.on_heartbeat = on_heartbeat

    async def wait_for_three_beats() -> None:
        async with keep_heartbeating():
            await three.wait()  # nothing but the ticker heartbeats meanwhile

    await asyncio.wait_for(env.run(wait_for_three_beats), 5)
    assert len(beats) >= 3
