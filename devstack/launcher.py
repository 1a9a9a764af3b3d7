"""The `make dev` stack: start the services in order, supervise them, stop them together.

Order matters because each service needs the one before: the worker and the API connect to
Temporal at start-up, and the worker's first model call needs the scripted model. Shutdown
runs in reverse, so the API stops accepting turns before the worker that runs them goes away.
If any child dies, the stack is no longer what the banner promised: everything stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from temporalio.client import Client

from core.settings import REPO_ROOT, Settings
from core.temporal import venv_binary
from devstack.banner import StackFacts, api_base_url, render_banner
from devstack.processes import Child, ChildSpec, describe_exit
from devstack.readiness import (
    PortClaim,
    StartupError,
    ensure_ports_free,
    wait_for_http,
    wait_for_temporal,
    wait_for_worker,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

PIDS_FILE = "devstack.pids"
"""JSON {name: pid} in the data dir while the stack runs; each pid is also its group id."""


@dataclass(frozen=True, kw_only=True)
class Options:
    start_temporal: bool = True
    """False: use the cluster at settings.temporal.address instead of a local dev server."""
    start_model: bool = True
    """False: do not start the scripted model even when no real model is configured."""
    startup_timeout: float = 60.0
    """Per service: how long it may take to answer its readiness probe."""
    stop_grace: float = 10.0
    """Per service: how long it may take to exit after SIGTERM before it is killed."""


def stack_settings(settings: Settings, options: Options) -> Settings:
    """When the launcher runs the dev server, every process must talk to that one."""
    if not options.start_temporal:
        return settings
    address = f"127.0.0.1:{settings.dev_server.grpc_port}"
    if settings.temporal.address != address:
        logger.info(
            "temporal.address %s -> %s (the dev server)", settings.temporal.address, address
        )
    temporal = settings.temporal.model_copy(update={"address": address})
    return settings.model_copy(update={"temporal": temporal})


def data_dir(settings: Settings) -> Path:
    return settings.data_path(settings.dev_server.db_file).parent


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["CHATSTOP_TEMPORAL__ADDRESS"] = settings.temporal.address
    # Unbuffered, so a child's lines reach the prefixing pump as written, not in 8 KiB blocks.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def temporal_spec(settings: Settings) -> ChildSpec:
    dev = settings.dev_server
    argv = [
        str(venv_binary("temporal")), "server", "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(dev.grpc_port),
        "--ui-port", str(dev.ui_port),
        "--db-filename", str(settings.data_path(dev.db_file)),
        "--namespace", settings.temporal.namespace,
        "--log-level", "warn",
        "--ui-disable-news-fetch",  # the Web UI would otherwise fetch a news feed online
    ]  # fmt: skip
    if dev.metrics_port:
        argv += ["--metrics-port", str(dev.metrics_port)]
    for name, kind in dev.search_attributes.items():
        # Re-registering on a restart over the same history file is accepted as a no-op.
        argv += ["--search-attribute", f"{name}={kind}"]
    return ChildSpec("temporal", argv, mute_when_stopping=True)


def model_spec(settings: Settings) -> ChildSpec:
    model = settings.scripted_model
    argv = [sys.executable, "-m", "devstack.scripted_model"]
    return ChildSpec("model", [*argv, "--host", model.host, "--port", str(model.port)])


def port_claims(settings: Settings, options: Options, start_model: bool) -> list[PortClaim]:
    dev, model, api = settings.dev_server, settings.scripted_model, settings.api
    claims = []
    if options.start_temporal:
        claims += [
            PortClaim("127.0.0.1", dev.grpc_port, "Temporal dev server (gRPC)",
                      "CHATSTOP_DEV_SERVER__GRPC_PORT"),
            PortClaim("127.0.0.1", dev.ui_port, "Temporal Web UI", "CHATSTOP_DEV_SERVER__UI_PORT"),
        ]  # fmt: skip
    if start_model:
        claims.append(
            PortClaim(model.host, model.port, "scripted model", "CHATSTOP_SCRIPTED_MODEL__PORT")
        )
    claims.append(PortClaim(api.host, api.port, "API", "CHATSTOP_API__PORT"))
    return claims


class Stack:
    """The running children, in start order."""

    def __init__(self, settings: Settings, options: Options) -> None:
        self._settings = settings
        self._options = options
        self._start_model = options.start_model and settings.uses_scripted_model
        self._env = child_env(settings)
        self._children: list[Child] = []
        self._pids_file = data_dir(settings) / PIDS_FILE

    async def run(self, stop: asyncio.Event) -> int:
        """Start, print the banner, supervise; always stop every child before returning."""
        stop_requested = asyncio.create_task(stop.wait())
        try:
            return await self._run(stop_requested)
        finally:
            stop_requested.cancel()
            await self._shutdown()

    def kill_all(self) -> None:
        """The impatient second Ctrl-C: no more grace periods."""
        for child in self._children:
            child.kill()

    async def _run(self, stop_requested: asyncio.Task[bool]) -> int:
        starting = asyncio.create_task(self._start())
        await asyncio.wait({starting, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            logger.info("stop requested during start-up")
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        try:
            starting.result()
        except StartupError as exc:
            logger.error("%s", exc)
            return 1
        facts = StackFacts(
            temporal_ui=await self._temporal_ui_url(),
            started_model=self._start_model,
            data_dir=str(data_dir(self._settings)),
            pids={child.name: child.pid for child in self._children},
        )
        print(render_banner(self._settings, facts), flush=True)  # the user-facing banner
        return await self._supervise(stop_requested)

    async def _start(self) -> None:
        settings, timeout = self._settings, self._options.startup_timeout
        ensure_ports_free(port_claims(settings, self._options, self._start_model))
        if self._options.start_temporal:
            await self._launch(temporal_spec(settings))
        client = await self._guard(wait_for_temporal(settings, timeout))
        if self._start_model:
            await self._launch(model_spec(settings))
            model = settings.scripted_model
            url = f"http://{model.host}:{model.port}/healthz"
            await self._guard(wait_for_http(url, what="scripted model", within=timeout))
        elif settings.uses_scripted_model:
            logger.warning(
                "--no-model: turns will call %s; start it yourself", settings.model_base_url
            )
        await self._launch(ChildSpec("worker", [sys.executable, "-m", "worker"]))
        await self._launch(ChildSpec("api", [sys.executable, "-m", "api"]))
        url = f"{api_base_url(settings)}/ok"
        await self._guard(wait_for_http(url, what="API", within=timeout))
        await self._guard(self._await_worker(client))

    async def _await_worker(self, client: Client) -> None:
        # Only a warning: a turn started before the worker polls simply waits in the queue.
        try:
            await wait_for_worker(client, self._settings, self._options.startup_timeout)
        except StartupError as exc:
            logger.warning("%s; chat turns will wait until a worker polls", exc)

    async def _launch(self, spec: ChildSpec) -> None:
        child = await Child.start(spec, cwd=REPO_ROOT, env=self._env)
        self._children.append(child)
        pids = {c.name: c.pid for c in self._children}
        self._pids_file.write_text(json.dumps(pids))

    async def _guard(self, probe: Awaitable[T]) -> T:
        """Await a readiness probe, but give up as soon as any child has died."""
        task = asyncio.ensure_future(probe)
        exits = {child.exited for child in self._children}
        try:
            await asyncio.wait({task, *exits}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        dead = self._first_dead()
        assert dead is not None
        how = describe_exit(dead.exited.result())
        raise StartupError(f"{dead.name} stopped during start-up ({how}); its output is above")

    async def _supervise(self, stop_requested: asyncio.Task[bool]) -> int:
        exits = {child.exited for child in self._children}
        await asyncio.wait({stop_requested, *exits}, return_when=asyncio.FIRST_COMPLETED)
        dead = self._first_dead()
        if stop_requested.done() or dead is None:
            logger.info("stopping the stack")
            return 0
        logger.error(
            "%s stopped unexpectedly (%s); stopping the rest",
            dead.name,
            describe_exit(dead.exited.result()),
        )
        return 1

    def _first_dead(self) -> Child | None:
        return next((child for child in self._children if child.exited.done()), None)

    async def _shutdown(self) -> None:
        for child in reversed(self._children):
            await child.stop(self._options.stop_grace)
        self._pids_file.unlink(missing_ok=True)
        if self._children:
            logger.info("all stopped")

    async def _temporal_ui_url(self) -> str:
        """The dev server's UI, else whatever the API was configured to link to."""
        if self._options.start_temporal:
            return f"http://127.0.0.1:{self._settings.dev_server.ui_port}"
        url = f"{api_base_url(self._settings)}/chatstop/config"
        try:
            async with httpx.AsyncClient(timeout=2.0) as http:
                return str((await http.get(url)).json()["temporal_ui"])
        except (httpx.HTTPError, ValueError, KeyError):
            return "(not run by devstack; see your cluster's Web UI)"
