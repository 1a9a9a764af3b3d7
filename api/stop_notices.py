"""The Stop fast path's sending end: while Temporal records a stop (api.run_stops), tell the
running call through the broker, so it closes the model stream or stops the tool at once.

The notice decides nothing (the turn's cancel does); losing it costs only speed: the call
then learns of the stop from Temporal's cancel on its next heartbeat.
"""

from __future__ import annotations

import contextlib
import logging

import orjson

from broker import Broker, BrokerUnavailable
from core.contracts import StopRequest
from core.live import Live, encode

logger = logging.getLogger(__name__)


class StopNotices:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def run_started(self, run_id: str) -> None:
        """The run's first live event, `metadata`, published before the run can publish
        anything: every stream of it starts with it, with an id (resumable clients rely on
        it). Without a broker, streams make it up themselves."""
        payload = encode(Live.METADATA, {"run_id": run_id, "attempt": 1})
        with contextlib.suppress(BrokerUnavailable):
            await self.broker.publish(run_id, payload, msg_id=f"{run_id}:metadata")

    async def announce(self, run_ids: list[str], stop: StopRequest) -> None:
        payload = orjson.dumps({"action": stop.action, "actor": stop.actor})
        for run_id in run_ids:
            try:
                await self.broker.publish_stop(run_id, payload)
            except BrokerUnavailable as exc:
                logger.warning(
                    "stop notice for %s not sent (%s): Temporal's cancel will do", run_id, exc
                )
