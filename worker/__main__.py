"""`python -m worker`: run the chatstop worker against the configured Temporal."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from activities.thread_store import open_thread_store
from core.settings import load_settings
from core.temporal import connect
from worker.assembly import build_worker

log = logging.getLogger("chatstop.worker")


async def main() -> None:
    settings = load_settings()
    client = await connect(settings)
    async with open_thread_store(settings) as store:
        assembled = build_worker(client, settings, store)
        log.info(
            "worker polling %s on %s (heartbeat throttle %s ms)",
            settings.temporal.task_queue,
            settings.temporal.address,
            settings.heartbeat.throttle_ms,
        )
        await assembled.worker.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
