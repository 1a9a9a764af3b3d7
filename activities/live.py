"""Publishing a run's live events from an activity.

Tokens go out fire-and-forget, one broker message each, the moment they arrive: no batching
delay. The few events whose order matters relative to other activities (the outbox, the
last chunk of a message, `end`) are acked, and an acked publish is stored after every
earlier fire-and-forget one on the same connection. So when an activity returns, everything
it published is on the broker before whatever the next activity publishes.

The broker being down never fails a call: live events are lost for the live view (the record
in Temporal and the thread store is intact), and the API falls back to the record.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from broker import Broker, BrokerUnavailable
from core.live import Live, OutboxEvent, encode, encode_json

log = logging.getLogger(__name__)


def outbox_msg_id(run_id: str, seq: int) -> str:
    return f"{run_id}:o{seq}"


class RunLive:
    """One activity's view of its run's live stream."""

    def __init__(self, broker: Broker, run_id: str) -> None:
        self._broker = broker
        self.run_id = run_id

    def nowait(self, kind: Live, body: Any) -> None:
        self._broker.publish_nowait(self.run_id, encode(kind, body))

    def nowait_json(self, kind: Live, body_json: bytes) -> None:
        self._broker.publish_nowait(self.run_id, encode_json(kind, body_json))

    async def acked(self, kind: Live, body: Any, *, msg_id: str | None = None) -> bool:
        return await self._acked(encode(kind, body), msg_id)

    async def acked_json(self, kind: Live, body_json: bytes, *, msg_id: str | None = None) -> bool:
        return await self._acked(encode_json(kind, body_json), msg_id)

    async def _acked(self, payload: bytes, msg_id: str | None) -> bool:
        try:
            await self._broker.publish(self.run_id, payload, msg_id=msg_id)
        except BrokerUnavailable as exc:
            log.warning(
                "run %s: live event not published (%s); the record is intact", self.run_id, exc
            )
            return False
        return True

    async def end(self, body: dict[str, Any]) -> bool:
        """The run's `end`, stored once per outcome: a retried activity repeats nothing, and
        a run that paused for approval ends again when its wait is stopped or expires."""
        msg_id = f"{self.run_id}:end:{body.get('outcome', '')}"
        return await self.acked(Live.END, body, msg_id=msg_id)

    async def outbox(self, events: list[OutboxEvent]) -> None:
        """The workflow's pending events, before anything of this activity's own."""
        for event in events:
            body = orjson.dumps(event.body)
            msg_id = outbox_msg_id(self.run_id, event.seq)
            if not await self.acked_json(Live(event.kind), body, msg_id=msg_id):
                return
