"""The Stop fast path's sending end: after Temporal has recorded a stop, tell the running
call through the broker, so it closes the model stream or stops the tool at once.

The notice decides nothing (the turn's cancel does); losing it costs only speed: the call
then learns of the stop from Temporal's cancel on its next heartbeat.
"""

from __future__ import annotations

import logging

import orjson

from broker import Broker, BrokerUnavailable
from core.contracts import StopRequest

logger = logging.getLogger(__name__)


class StopNotices:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def announce(self, run_ids: list[str], stop: StopRequest) -> None:
        payload = orjson.dumps({"action": stop.action, "actor": stop.actor})
        for run_id in run_ids:
            try:
                await self.broker.publish_stop(run_id, payload)
            except BrokerUnavailable as exc:
                logger.warning(
                    "stop notice for %s not sent (%s): Temporal's cancel will do", run_id, exc
                )
