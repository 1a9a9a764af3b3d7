"""The broker against a real nats-server: ordering, resume, dedup, retention, the Stop fast
path, and what happens while NATS is down, frozen or restarting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from broker import Broker, BrokerUnavailable, RunEvent, open_broker
from broker.events import INACTIVE_SECONDS
from core.settings import BrokerSettings
from tests.fixtures.eventually import eventually
from tests.fixtures.nats import NatsServer, consumer_count, drop_stream, settings_for

pytestmark = pytest.mark.integration

RECOVERY_WITHIN = 20.0
"""Reconnect (1 s apart) plus, for a reader, two missed 2 s heartbeats before nats-py
recreates its consumer on the restarted server."""


async def take(events: AsyncIterator[RunEvent], count: int, within: float = 10) -> list[RunEvent]:
    got: list[RunEvent] = []
    try:
        async with asyncio.timeout(within):
            async for event in events:
                got.append(event)
                if len(got) == count:
                    break
    except TimeoutError:
        pytest.fail(f"{len(got)} of {count} events after {within} s: {got[-5:]}")
    return got


async def published_once_up(broker: Broker, run_id: str, payload: bytes) -> int:
    """Publish as soon as the broker has reconnected and recreated its stream."""

    async def attempt() -> int | None:
        try:
            return await broker.publish(run_id, payload)
        except BrokerUnavailable:
            return None

    return await eventually(attempt, within=RECOVERY_WITHIN, what="publish after NATS is back")


# --- events -------------------------------------------------------------------------------


async def test_a_reader_gets_the_runs_events_in_publish_order(broker: Broker) -> None:
    payloads = [f"token {i}".encode() for i in range(50)]
    for payload in payloads:
        broker.publish_nowait("run-a", payload)
    broker.publish_nowait("run-b", b"another run's token")
    end = await broker.publish("run-a", b"end")

    async with aclosing(broker.subscribe("run-a")) as events:
        got = await take(events, 51)

    assert [e.data for e in got] == [*payloads, b"end"]
    assert [e.seq for e in got] == sorted({e.seq for e in got})
    assert got[-1].seq == end


async def test_resuming_after_a_sequence_yields_exactly_the_later_events(broker: Broker) -> None:
    sent: list[RunEvent] = []
    for i in range(10):
        payload = f"a{i}".encode()
        sent.append(RunEvent(await broker.publish("run-a", payload), payload))
        await broker.publish("run-b", b"b")  # interleaved: run-a's sequences have gaps
    end = RunEvent(await broker.publish("run-a", b"end"), b"end")

    for after in (0, sent[0].seq, sent[4].seq, sent[4].seq + 1, sent[9].seq):
        expected = [e for e in sent if e.seq > after] + [end]
        async with aclosing(broker.subscribe("run-a", after_seq=after)) as events:
            assert await take(events, len(expected)) == expected, f"after_seq={after}"


async def test_a_late_reader_gets_the_backlog_then_live_events(broker: Broker) -> None:
    early = [await broker.publish("run", f"early {i}".encode()) for i in range(3)]
    async with aclosing(broker.subscribe("run")) as events:
        backlog = await take(events, 3)
        live_seq = await broker.publish("run", b"live")
        broker.publish_nowait("run", b"live, fire and forget")
        live = await take(events, 2)

    assert [e.seq for e in backlog] == early
    assert live[0] == RunEvent(live_seq, b"live")
    assert live[1].data == b"live, fire and forget" and live[1].seq > live_seq


async def test_a_republished_message_id_is_stored_once(broker: Broker) -> None:
    first = await broker.publish("run", b"tool result", msg_id="call-1")
    again = await broker.publish("run", b"tool result", msg_id="call-1")
    broker.publish_nowait("run", b"token", msg_id="tok-7")
    broker.publish_nowait("run", b"token", msg_id="tok-7")
    last = await broker.publish("run", b"end", msg_id="end")

    assert again == first
    async with aclosing(broker.subscribe("run")) as events:
        got = await take(events, 3)
    assert [e.data for e in got] == [b"tool result", b"token", b"end"]
    assert got[-1].seq == last == first + 2


async def test_an_acked_publish_is_stored_after_every_earlier_nowait_publish(
    broker: Broker,
) -> None:
    count = 5000
    first = await broker.publish("run", b"start")
    for i in range(count):
        broker.publish_nowait("run", str(i).encode())
    end = await broker.publish("run", b"end")

    assert end == first + count + 1  # its ack came after all of them were stored
    assert broker.dropped_events == 0
    async with aclosing(broker.subscribe("run", after_seq=first)) as events:
        got = await take(events, count + 1, within=30)
    assert [e.data for e in got] == [str(i).encode() for i in range(count)] + [b"end"]


async def test_a_token_after_a_quiet_spell_leaves_at_once_then_writes_are_paced(
    nats_server: NatsServer,
) -> None:
    """The coalescing window bounds how often the socket is written, not how long a lone
    token waits: with a 4 s window, the first token arrives well within it; the next two,
    published right after, wait for the window to pass and go out together."""
    settings = settings_for(nats_server.url, storage="memory", coalesce_ms=4_000)
    try:
        async with open_broker(settings) as broker:
            async with aclosing(broker.subscribe("run")) as events:
                broker.publish_nowait("run", b"first")
                assert [e.data for e in await take(events, 1, within=2)] == [b"first"]
                broker.publish_nowait("run", b"second")
                broker.publish_nowait("run", b"third")
                got = await take(events, 2, within=20)
            assert [e.data for e in got] == [b"second", b"third"]
    finally:
        await drop_stream(settings)


async def test_events_expire_after_the_retention_period(nats_server: NatsServer) -> None:
    settings = settings_for(nats_server.url, retention_seconds=1, storage="memory")
    try:
        async with open_broker(settings) as broker:
            seq = await broker.publish("run", b"old")
            assert await broker.last_seq("run") == seq

            async def expired() -> bool:
                return await broker.last_seq("run") is None

            await eventually(expired, within=10, what="the event expired")
            fresh = await broker.publish("run", b"fresh")
            async with aclosing(broker.subscribe("run")) as events:
                assert await take(events, 1) == [RunEvent(fresh, b"fresh")]
    finally:
        await drop_stream(settings)


async def test_last_seq_and_purge_concern_one_run_only(broker: Broker) -> None:
    assert await broker.last_seq("run-a") is None
    await broker.publish("run-a", b"a")
    b_seq = await broker.publish("run-b", b"b")

    await broker.purge_run("run-a")

    assert await broker.last_seq("run-a") is None
    assert await broker.last_seq("run-b") == b_seq


async def test_a_reader_that_stops_iterating_leaves_no_consumer(
    broker: Broker, broker_settings: BrokerSettings
) -> None:
    await broker.publish("run", b"x")
    async with aclosing(broker.subscribe("run")) as events:
        await take(events, 1)
        assert await consumer_count(broker_settings) == 1

    async def none_left() -> bool:
        return await consumer_count(broker_settings) == 0

    await eventually(none_left, within=INACTIVE_SECONDS + 10, what="the consumer was removed")


async def test_ensure_stream_is_idempotent_and_applies_new_limits(
    broker: Broker, broker_settings: BrokerSettings
) -> None:
    seq = await broker.publish("run", b"kept")
    await broker.ensure_stream()
    longer = broker_settings.model_copy(update={"retention_seconds": 7200})
    async with open_broker(longer) as updated:
        assert await updated.last_seq("run") == seq  # updated in place, not recreated
    info = await _stream_max_age(broker_settings)
    assert info == 7200


async def _stream_max_age(settings: BrokerSettings) -> float | None:
    import nats

    nc = await nats.connect(settings.url, allow_reconnect=False, max_reconnect_attempts=1)
    try:
        return (await nc.jetstream().stream_info(settings.stream)).config.max_age
    finally:
        await nc.close()


@pytest.mark.parametrize("run_id", ["", "a.b", "*", ">", "a b", "run\r\n", "ü"])
async def test_an_unsafe_run_id_is_refused(broker: Broker, run_id: str) -> None:
    with pytest.raises(ValueError, match="not a safe subject token"):
        broker.publish_nowait(run_id, b"x")
    with pytest.raises(ValueError):
        await broker.publish(run_id, b"x")
    with pytest.raises(ValueError):
        broker.subscribe(run_id)
    with pytest.raises(ValueError):
        await broker.on_stop(run_id, lambda _: None)
    with pytest.raises(ValueError):
        await broker.publish_stop(run_id, b"x")


# --- Stop fast path -----------------------------------------------------------------------


async def test_a_stop_notice_reaches_the_listeners_of_its_run_only(
    broker: Broker, broker_settings: BrokerSettings
) -> None:
    heard_a: list[bytes] = []
    heard_b: list[bytes] = []
    listener_a = await broker.on_stop("run-a", heard_a.append)
    await broker.on_stop("run-b", heard_b.append)
    async with open_broker(broker_settings, name="api") as api:  # another process's view
        await api.publish_stop("run-a", b"interrupt by alice")
        await eventually(lambda: heard_a, within=5, what="run-a's listener heard the stop")

        await listener_a.close()
        await api.publish_stop("run-a", b"nobody listens any more")
        await api.publish_stop("run-b", b"stop b")
        # Same publisher, same subscription: run-a's second notice arrived before this one.
        await eventually(lambda: heard_b, within=5, what="run-b's listener heard its stop")

    assert heard_a == [b"interrupt by alice"]
    assert heard_b == [b"stop b"]
    assert await broker.last_seq("run-a") is None  # stop notices are never stored


# --- NATS down, frozen, restarted ---------------------------------------------------------


async def test_nats_down_at_start_up_does_not_block_and_the_broker_works_once_it_is_up(
    private_nats_server: NatsServer,
) -> None:
    server = private_nats_server
    await server.stop()
    settings = settings_for(server.url)
    started = time.monotonic()
    async with open_broker(settings) as broker:
        assert time.monotonic() - started < settings.connect_timeout_seconds + 1
        assert not broker.connected
        with pytest.raises(BrokerUnavailable, match=str(server.port)):
            await broker.publish("run", b"x")
        broker.publish_nowait("run", b"dropped")
        assert broker.dropped_events == 1
        with pytest.raises(BrokerUnavailable):
            await anext(broker.subscribe("run"))
        with pytest.raises(BrokerUnavailable):
            await broker.publish_stop("run", b"stop")
        with pytest.raises(BrokerUnavailable):
            await broker.last_seq("run")
        heard: list[bytes] = []
        await broker.on_stop("run", heard.append)  # a silent listener, not an error

        await server.start()
        seq = await published_once_up(broker, "run", b"first")  # the stream was created

        assert await broker.last_seq("run") == seq
        async with open_broker(settings, name="api") as api:
            await api.publish_stop("run", b"stop")
            await eventually(lambda: heard, within=5, what="the early listener hears stops now")


async def test_a_frozen_server_fails_publishes_within_the_timeout_and_nowait_never_blocks(
    private_nats_server: NatsServer,
) -> None:
    settings = settings_for(private_nats_server.url, publish_timeout_seconds=0.5)
    async with open_broker(settings) as broker:
        before = await broker.publish("run", b"before")
        async with private_nats_server.frozen():
            started = time.monotonic()
            with pytest.raises(BrokerUnavailable, match="acked publish failed"):
                await broker.publish("run", b"times out")
            assert time.monotonic() - started < 0.5 + 0.3

            started = time.monotonic()
            for i in range(1000):
                broker.publish_nowait("run", str(i).encode())
            assert time.monotonic() - started < 0.1

            started = time.monotonic()
            with pytest.raises(BrokerUnavailable, match="stop notice"):
                await broker.publish_stop("run", b"stop")
            assert time.monotonic() - started < 0.5 + 0.3

        after = await broker.publish("run", b"after")
    # What was written to the socket during the freeze was stored once the server resumed,
    # the publish that timed out included: retries of acked publishes need a msg_id.
    assert after == before + 1 + 1000 + 1


async def test_the_same_broker_and_its_readers_carry_on_after_nats_restarts(
    private_nats_server: NatsServer,
) -> None:
    server = private_nats_server
    settings = settings_for(server.url)
    async with open_broker(settings) as broker:
        first = await broker.publish("run", b"before the crash")
        reader = broker.subscribe("run")
        # Caught up and waiting: it has seen nothing, so nats-py would restart its consumer
        # from sequence 1 and replay "before the crash" if the broker did not guard it.
        waiting = broker.subscribe("run", after_seq=first)
        async with aclosing(reader) as events, aclosing(waiting) as later_events:
            assert await take(events, 1) == [RunEvent(first, b"before the crash")]
            pending = asyncio.create_task(take(later_events, 1, within=RECOVERY_WITHIN + 10))

            async def both_reading() -> bool:
                return await consumer_count(settings) == 2

            await eventually(both_reading, within=5, what="both readers have a consumer")

            await server.stop(kill=True)
            await eventually(lambda: not broker.connected, within=5, what="the loss noticed")
            with pytest.raises(BrokerUnavailable):
                await broker.publish("run", b"x")
            started = time.monotonic()
            broker.publish_nowait("run", b"lost while down")
            assert time.monotonic() - started < 0.01
            assert broker.dropped_events == 1

            await server.start()
            seq = await published_once_up(broker, "run", b"after the restart")
            # Their consumers died with the server; nats-py recreates each after missed
            # heartbeats.
            assert await take(events, 1, within=RECOVERY_WITHIN) == [
                RunEvent(seq, b"after the restart")
            ]
            assert await pending == [RunEvent(seq, b"after the restart")]
