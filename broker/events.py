"""Reading a run's events: its stored backlog after a sequence, then live ones.

Each reader is an ephemeral ordered push consumer (nats-py ``ordered_consumer=True``)
filtered on the run's subject. The server pushes with flow control; nats-py checks the
consumer sequence of every message and, on a gap (or missed heartbeats, e.g. after the
server restarted), recreates the consumer from the last stream sequence it saw. The server
deletes the consumer once nobody listens for ``INACTIVE_SECONDS``, which also covers a
process that died without closing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from broker.subjects import stream_sequence

IDLE_HEARTBEAT_SECONDS = 2.0
"""The server's keep-alive to each reader; two missed ones make nats-py recreate the
consumer (a restarted server has lost it), so a reader recovers within ~4 s."""
INACTIVE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class RunEvent:
    seq: int
    """The JetStream stream sequence: resume with ``subscribe(run_id, after_seq=seq)``."""
    data: bytes


class RunInbox:
    """Events handed over by nats-py's delivery task, waiting for the reader."""

    __slots__ = ("events", "last_seq", "_waiter")

    def __init__(self, after_seq: int) -> None:
        self.events: deque[RunEvent] = deque()
        self.last_seq = after_seq
        self._waiter: asyncio.Future[None] | None = None

    async def push(self, msg: Msg) -> None:
        seq = stream_sequence(msg.reply)
        # nats-py restarts an ordered consumer from its last seen sequence + 1, which is 1 if
        # it saw nothing yet: the guard keeps the caller's "after" promise in that case too.
        if seq <= self.last_seq:
            return
        self.last_seq = seq
        self.events.append(RunEvent(seq, msg.data))
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():  # cancelled along with its reader
                waiter.set_result(None)

    async def wait(self) -> None:
        """Until at least one event is queued."""
        if not self.events:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter


def consumer_config(after_seq: int) -> ConsumerConfig:
    if after_seq <= 0:
        return ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    return ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_seq + 1
    )


async def open_reader(
    js: JetStreamContext, stream: str, subject: str, after_seq: int
) -> tuple[RunInbox, JetStreamContext.PushSubscription]:
    """Create the consumer (one API round trip); events then arrive in the inbox."""
    inbox = RunInbox(after_seq)
    sub = await js.subscribe(
        subject,
        stream=stream,  # saves the stream lookup round trip
        cb=inbox.push,
        ordered_consumer=True,
        config=consumer_config(after_seq),
        idle_heartbeat=IDLE_HEARTBEAT_SECONDS,
        inactive_threshold=INACTIVE_SECONDS,
    )
    return inbox, sub


async def close_reader(sub: JetStreamContext.PushSubscription) -> None:
    # With a closed connection there is nothing to unsubscribe from; the server's
    # inactivity timer removes the consumer either way.
    with contextlib.suppress(nats.errors.Error):
        await sub.unsubscribe()
