"""`python -m api`: serve the chatstop HTTP API with uvicorn on settings.api.host/port."""

from __future__ import annotations

import logging

import uvicorn

from api.app import create_app
from api.auth import UnsafeConfiguration, authentication_mode
from core.heap import freeze_startup_heap
from core.settings import load_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    try:
        app = create_app(settings)
    except UnsafeConfiguration as exc:
        logging.getLogger("chatstop.api").error("refusing to start: %s", exc)
        raise SystemExit(2) from exc
    logging.getLogger("chatstop.api").info("authentication: %s", authentication_mode(settings))
    freeze_startup_heap()
    # One worker process: multitask guarantees rely on per-thread locks held in this process.
    # Keep-alive longer than clients' idle pools: a connection the server closes just as a
    # client reuses it fails that request ("Server disconnected without sending a response").
    uvicorn.run(
        app, host=settings.api.host, port=settings.api.port, workers=1, timeout_keep_alive=75
    )


if __name__ == "__main__":
    main()
