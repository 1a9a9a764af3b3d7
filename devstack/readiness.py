"""Start-up checks: free ports before launching, readiness probes after.

Every probe polls with a deadline rather than sleeping a fixed time, so `make dev` is as fast
as the slowest service and a service that never comes up fails with a message, not a hang.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeTaskQueueRequest,
)
from temporalio.client import Client

from core.settings import Settings
from core.temporal import connect

T = TypeVar("T")

_POLL_INTERVAL = 0.1
_PROBE_TIMEOUT = timedelta(seconds=2)


class StartupError(Exception):
    """The stack cannot start; the message says why and what to do about it."""


@dataclass(frozen=True)
class PortClaim:
    """A port a service of the stack is about to bind, and the setting that chose it."""

    host: str
    port: int
    service: str
    env_var: str


def ensure_ports_free(claims: list[PortClaim]) -> None:
    """Fail fast, naming the port, instead of letting a child crash with EADDRINUSE."""
    seen: dict[int, PortClaim] = {}
    for claim in claims:
        if claim.port in seen:
            other = seen[claim.port]
            raise StartupError(
                f"{claim.service} and {other.service} are both configured on port {claim.port}; "
                f"move one with {claim.env_var}=<port>"
            )
        seen[claim.port] = claim
        if _port_in_use(claim.host, claim.port):
            raise StartupError(
                f"port {claim.port} on {claim.host} is already in use, and the {claim.service} "
                f"needs it. Stop whatever listens there (ss -ltnp 'sport = :{claim.port}') "
                f"or move the {claim.service}: {claim.env_var}=<free port>"
            )


def _port_in_use(host: str, port: int) -> bool:
    # SO_REUSEADDR mirrors what uvicorn and the Temporal server do: a port lingering in
    # TIME_WAIT is free for them, only a live listener is a conflict.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


async def poll_until(check: Callable[[], Awaitable[T | None]], *, what: str, within: float) -> T:
    """Call ``check`` until it returns a value; raise StartupError at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_problem = "no answer yet"
    while True:
        try:
            result = await check()
            if result is not None:
                return result
        except Exception as exc:  # any failure just means "not yet"; the last one is reported
            last_problem = f"{type(exc).__name__}: {exc}"
        if loop.time() >= deadline:
            raise StartupError(f"{what} was not ready after {within:.0f} s ({last_problem})")
        await asyncio.sleep(_POLL_INTERVAL)


async def wait_for_temporal(settings: Settings, within: float) -> Client:
    """Until a client connects and the configured namespace exists."""

    async def check() -> Client:
        client = await connect(settings)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=settings.temporal.namespace),
            timeout=_PROBE_TIMEOUT,
        )
        return client

    what = f"Temporal at {settings.temporal.address}"
    return await poll_until(check, what=what, within=within)


async def wait_for_worker(
    client: Client,
    settings: Settings,
    within: float,
    *,
    pid: int | None = None,
    calls: bool = False,
) -> None:
    """Until a worker polls the task queue, so the first chat turn is picked up at once.

    With ``pid``, until that process polls: a replaced worker stays listed as a poller for a
    while. The SDK's default worker identity is ``<pid>@<host>``. ``calls``: a worker that
    runs only model and tool calls, which polls for activity tasks, not workflow tasks."""
    kind = (
        TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY if calls else TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
    )
    request = DescribeTaskQueueRequest(
        namespace=settings.temporal.namespace,
        task_queue=TaskQueue(name=settings.temporal.task_queue),
        task_queue_type=kind,
    )

    async def check() -> bool | None:
        response = await client.workflow_service.describe_task_queue(
            request, timeout=_PROBE_TIMEOUT
        )
        identities = [poller.identity for poller in response.pollers]
        if pid is None:
            return True if identities else None
        return True if any(i.startswith(f"{pid}@") for i in identities) else None

    who = "a worker" if pid is None else f"the worker with pid {pid}"
    what = f"{who} on task queue {settings.temporal.task_queue!r}"
    await poll_until(check, what=what, within=within)


async def wait_for_http(url: str, *, what: str, within: float) -> None:
    """Until ``url`` answers 200."""
    async with httpx.AsyncClient(timeout=_PROBE_TIMEOUT.total_seconds()) as http:

        async def check() -> bool | None:
            response = await http.get(url)
            return True if response.status_code == 200 else None

        await poll_until(check, what=f"{what} ({url})", within=within)
