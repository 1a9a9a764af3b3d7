"""Run the scripted model in-process on a loopback port (for test fixtures and benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn

from devstack.asgi import ServedApp, serve_app
from devstack.scripted_model.request_log import RequestLog
from devstack.scripted_model.server import create_app


@dataclass
class RunningScriptedModel:
    """Handle on a scripted model served in the current event loop."""

    served: ServedApp
    request_log: RequestLog

    @property
    def server(self) -> uvicorn.Server:
        return self.served.server

    @property
    def task(self) -> asyncio.Task[None]:
        return self.served.task

    @property
    def host(self) -> str:
        return self.served.host

    @property
    def port(self) -> int:
        return self.served.port

    @property
    def base_url(self) -> str:
        """OpenAI base URL (what ``OPENAI_BASE_URL`` / ``ChatOpenAI(base_url=...)`` expects)."""
        return f"{self.served.url}/v1"

    @property
    def root_url(self) -> str:
        """Base for ``/_scripted/log`` and ``/healthz``."""
        return self.served.url

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Ask uvicorn to exit; streams still open after the grace period are cancelled."""
        await self.served.stop(grace_seconds)


async def serve_in_background(
    host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> RunningScriptedModel:
    """Start a fresh scripted model (own request log) and return once it accepts connections.

    ``port=0`` picks a free ephemeral port; read it back from ``.port`` / ``.base_url``.
    """
    app = create_app()
    served = await serve_app(
        app, host, port, lifespan="off", name="scripted-model", startup_timeout=startup_timeout
    )
    return RunningScriptedModel(served=served, request_log=app.state.request_log)


@contextlib.asynccontextmanager
async def scripted_model(
    host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningScriptedModel]:
    """``async with scripted_model() as model:`` — serve for the duration of the block."""
    running = await serve_in_background(host, port)
    try:
        yield running
    finally:
        await running.stop()
