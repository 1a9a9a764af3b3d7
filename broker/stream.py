"""The JetStream stream that keeps every run's live events for a while."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from broker.subjects import Subjects
from core.settings import BrokerSettings

logger = logging.getLogger("chatstop.broker")

_STREAM_NAME_IN_USE = 10058
"""JetStream's error code for "stream name already in use with a different configuration"."""


def stream_config(settings: BrokerSettings, subjects: Subjects) -> StreamConfig:
    return StreamConfig(
        name=settings.stream,
        subjects=[subjects.all_events],  # stop notices stay outside: never stored
        retention=RetentionPolicy.LIMITS,
        max_age=settings.retention_seconds,
        # JetStream refuses a duplicate window longer than max_age.
        duplicate_window=min(settings.duplicate_window_seconds, settings.retention_seconds),
        storage=StorageType(settings.storage),
        num_replicas=settings.replicas,
        discard=DiscardPolicy.OLD,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one to this configuration (idempotent:
    the server accepts an identical create as a no-op)."""
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        if exc.err_code != _STREAM_NAME_IN_USE:
            raise
        await js.update_stream(config)
        logger.info("updated JetStream stream %s to the configured limits", config.name)
