"""Run the scripted model in-process on a loopback port (for test fixtures and benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn

from devstack.scripted_model.request_log import RequestLog
from devstack.scripted_model.server import create_app


class _InProcessServer(uvicorn.Server):
    """A uvicorn server that leaves the host process's signal handlers alone.

    uvicorn normally takes over SIGINT/SIGTERM; inside pytest that would swallow Ctrl+C.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class RunningScriptedModel:
    """Handle on a scripted model served in the current event loop."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int
    request_log: RequestLog

    @property
    def base_url(self) -> str:
        """OpenAI base URL (what ``OPENAI_BASE_URL`` / ``ChatOpenAI(base_url=...)`` expects)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """Base for ``/_scripted/log`` and ``/healthz``."""
        return self.base_url.removesuffix("/v1")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Ask uvicorn to exit; streams still open after the grace period are cancelled."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace_seconds)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def _bind(host: str, port: int) -> socket.socket:
    """Bind ourselves so port 0 works and bind errors raise here, not as uvicorn's sys.exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def serve_in_background(
    host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> RunningScriptedModel:
    """Start a fresh scripted model (own request log) and return once it accepts connections.

    ``port=0`` picks a free ephemeral port; read it back from ``.port`` / ``.base_url``.
    """
    app = create_app()
    sock = _bind(host, port)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1
    )
    server = _InProcessServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="scripted-model")
    deadline = asyncio.get_running_loop().time() + startup_timeout
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # re-raises the startup error, if any
            raise RuntimeError("scripted model exited during startup")
        if asyncio.get_running_loop().time() > deadline:
            task.cancel()
            sock.close()
            raise TimeoutError(f"scripted model did not start within {startup_timeout}s")
        await asyncio.sleep(0.01)
    return RunningScriptedModel(
        server=server,
        task=task,
        host=host,
        port=sock.getsockname()[1],
        request_log=app.state.request_log,
    )


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
