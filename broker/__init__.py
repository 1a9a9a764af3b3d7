"""NATS JetStream transport: a run's live events and the Stop fast path.

Temporal stays the control plane and the record; the broker only makes things fast:
tokens reach SSE clients without a Temporal round trip, and a stop notice reaches the
running activity without waiting for a heartbeat. Payloads are opaque bytes.

    async with open_broker(settings.broker) as broker:
        broker.publish_nowait(run_id, b"...")              # worker: every token
        seq = await broker.publish(run_id, b"...", msg_id="end")   # acked, deduplicated
        async for event in broker.subscribe(run_id, after_seq=0):  # API: one per SSE client
            ...
        await broker.publish_stop(run_id, b"...")          # API: Stop
        listener = await broker.on_stop(run_id, callback)  # worker: per running call
"""

from broker.client import Broker, open_broker
from broker.errors import BrokerUnavailable
from broker.events import RunEvent
from broker.stops import StopListener
from broker.subjects import Subjects, validate_run_id

__all__ = [
    "Broker",
    "BrokerUnavailable",
    "RunEvent",
    "StopListener",
    "Subjects",
    "open_broker",
    "validate_run_id",
]
