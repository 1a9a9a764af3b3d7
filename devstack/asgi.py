"""Serve an ASGI app in the current event loop on a loopback port (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn


class _InProcessServer(uvicorn.Server):
    """A uvicorn server that leaves the host process's signal handlers alone.

    uvicorn normally takes over SIGINT/SIGTERM; inside pytest that would swallow Ctrl+C.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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


@dataclass
class ServedApp:
    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Ask uvicorn to exit; connections still open after the grace period are cancelled."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace_seconds)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def serve_app(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    lifespan: Literal["auto", "on", "off"] = "on",
    name: str = "asgi",
    startup_timeout: float = 10.0,
) -> ServedApp:
    """Start serving and return once the server accepts connections (port 0 = ephemeral)."""
    sock = _bind(host, port)
    config = uvicorn.Config(
        app, log_level="warning", lifespan=lifespan, access_log=False, timeout_graceful_shutdown=1
    )
    server = _InProcessServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=name)
    deadline = asyncio.get_running_loop().time() + startup_timeout
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # re-raises the startup error, if any
            raise RuntimeError(f"{name} exited during startup")
        if asyncio.get_running_loop().time() > deadline:
            task.cancel()
            sock.close()
            raise TimeoutError(f"{name} did not start within {startup_timeout}s")
        await asyncio.sleep(0.01)
    return ServedApp(server=server, task=task, host=host, port=sock.getsockname()[1])
