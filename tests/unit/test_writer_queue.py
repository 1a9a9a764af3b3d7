"""stores.writer_queue: one writer at a time, a Stop's write ahead of the waiting ones."""

from __future__ import annotations

import asyncio

from stores.writer_queue import WriterQueue


async def _write(queue: WriterQueue, name: str, log: list[str], *, urgent: bool = False) -> None:
    async with queue.turn(urgent=urgent):
        log.append(f"{name} in")
        await asyncio.sleep(0)  # hold the turn across a loop pass: others must not get in
        log.append(f"{name} out")


async def _held(queue: WriterQueue) -> tuple[asyncio.Event, asyncio.Task[None]]:
    """A writer that holds the turn until the returned event is set."""
    inside, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with queue.turn():
            inside.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await inside.wait()
    return release, task


async def _queued(queue: WriterQueue, count: int) -> None:
    """One pass of the loop: the new writers run up to their wait for the turn."""
    await asyncio.sleep(0)
    assert len(queue._waiting) == count  # noqa: SLF001


async def test_writers_take_turns_and_an_urgent_one_goes_before_those_waiting() -> None:
    queue, log = WriterQueue(), list[str]()
    release, holder = await _held(queue)
    routine = [asyncio.create_task(_write(queue, f"r{i}", log)) for i in range(3)]
    await _queued(queue, 3)
    urgent = asyncio.create_task(_write(queue, "stop", log, urgent=True))
    await _queued(queue, 4)

    release.set()
    await asyncio.gather(holder, *routine, urgent)

    assert log == [
        "stop in", "stop out", "r0 in", "r0 out", "r1 in", "r1 out", "r2 in", "r2 out",
    ]  # fmt: skip


async def test_a_writer_cancelled_while_waiting_never_blocks_the_others() -> None:
    queue, log = WriterQueue(), list[str]()
    release, holder = await _held(queue)
    gone = asyncio.create_task(_write(queue, "gone", log))
    after = asyncio.create_task(_write(queue, "after", log))
    await _queued(queue, 2)
    gone.cancel()

    release.set()
    async with asyncio.timeout(5):
        await asyncio.gather(holder, after)

    assert gone.cancelled()
    assert log == ["after in", "after out"]
    async with asyncio.timeout(1):  # free again
        await _write(queue, "last", log)


async def test_a_writer_cancelled_as_it_is_handed_the_turn_passes_it_on() -> None:
    queue, log = WriterQueue(), list[str]()
    held = queue.turn()
    await held.__aenter__()
    handed = asyncio.create_task(_write(queue, "handed", log))
    after = asyncio.create_task(_write(queue, "after", log))
    await _queued(queue, 2)

    await held.__aexit__(None, None, None)  # hands the turn to `handed`; nothing ran since
    handed.cancel()
    async with asyncio.timeout(5):  # a turn nobody passed on would hang here
        await after

    assert handed.cancelled()
    assert log == ["after in", "after out"]
