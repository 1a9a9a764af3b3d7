"""The `make dev` stack: start the services in order, supervise them, stop them together.

Order matters because each service needs the one before: the worker and the API connect to
Temporal and NATS at start-up (NATS only for speed: they start without it), and the worker's
first model call needs the scripted model. Shutdown runs in reverse, so the API stops
accepting turns before the worker that runs them goes away.

A worker that exits is replaced while the rest stays up: ``kill -INT <worker pid>`` rehearses
a rolling deploy (devstack/restarts.py guards against a crash loop). Any other child dying
(an API replica too) means the stack is no longer what the banner promised: everything stops.
``--api-replicas N`` runs N API processes, rehearsing scale-out on one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.client import Client

from core.settings import REPO_ROOT, Settings
from devstack.banner import StackFacts, api_base_url, render_banner
from devstack.nats_server import nats_spec, wait_for_nats
from devstack.processes import Child, ChildSpec, describe_exit
from devstack.readiness import (
    StartupError,
    ensure_ports_free,
    wait_for_http,
    wait_for_temporal,
    wait_for_worker,
)
from devstack.restarts import CrashLoopGuard, RestartPolicy
from devstack.specs import (
    Options,
    api_ports,
    api_spec,
    child_env,
    data_dir,
    model_spec,
    port_claims,
    runs_calls_only,
    stack_settings,
    temporal_spec,
    worker_specs,
)

__all__ = ["APIS_FILE", "PIDS_FILE", "Options", "Stack", "stack_settings", "temporal_spec"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

PIDS_FILE = "devstack.pids"
"""JSON {name: pid} in the data dir while the stack runs; each pid is also its group id.
Rewritten when a worker is replaced."""
APIS_FILE = "devstack.apis"
"""JSON {name: base URL} of the API replicas while the stack runs (`api`, then `api-2`, ...
on ports picked at start-up); written before the first API starts."""


class Stack:
    """The running children, in start order."""

    def __init__(
        self, settings: Settings, options: Options, restarts: RestartPolicy | None = None
    ) -> None:
        self._settings = settings
        self._options = options
        self._start_model = options.start_model and settings.uses_scripted_model
        self._env = child_env(settings)
        self._children: list[Child] = []
        self._pids_file = data_dir(settings) / PIDS_FILE
        self._apis_file = data_dir(settings) / APIS_FILE
        self._apis: dict[str, str] = {}
        self._crash_loop = CrashLoopGuard(restarts or RestartPolicy())
        self._worker_specs = worker_specs(options)
        self._started_at: dict[str, float] = {}
        self._client: Client | None = None
        self._watchers: set[asyncio.Task[None]] = set()

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
            started_broker=self._options.start_broker,
            data_dir=str(data_dir(self._settings)),
            pids={child.name: child.pid for child in self._children},
            apis=self._apis,
        )
        print(render_banner(self._settings, facts), flush=True)  # the user-facing banner
        return await self._supervise(stop_requested)

    async def _start(self) -> None:
        settings, timeout = self._settings, self._options.startup_timeout
        ensure_ports_free(port_claims(settings, self._options, self._start_model))
        if self._options.start_temporal:
            await self._launch(temporal_spec(settings))
        self._client = await self._guard(wait_for_temporal(settings, timeout))
        await self._start_broker()
        if self._start_model:
            await self._launch(model_spec(settings))
            model = settings.scripted_model
            url = f"http://{model.host}:{model.port}/healthz"
            await self._guard(wait_for_http(url, what="scripted model", within=timeout))
        elif settings.uses_scripted_model:
            logger.warning(
                "--no-model: turns will call %s; start it yourself", settings.model_base_url
            )
        for spec in self._worker_specs:
            await self._launch_worker(spec)
        await self._launch_apis()
        for spec in self._worker_specs:
            probe = self._await_worker(self._client, spec, self._options.startup_timeout)
            await self._guard(probe)

    async def _launch_apis(self) -> None:
        settings, timeout = self._settings, self._options.startup_timeout
        ports = api_ports(settings, self._options.api_replicas)
        specs = [api_spec(replica, port) for replica, port in enumerate(ports, start=1)]
        self._apis = {
            spec.name: api_base_url(settings, port) for spec, port in zip(specs, ports, strict=True)
        }
        _replace_atomically(self._apis_file, self._apis)
        # All at once: schema setup is serialised across processes (stores/schema_lock.py).
        for spec in specs:
            await self._launch(spec)
        for spec in specs:
            url, what = self._apis[spec.name], spec.name.replace("api", "API", 1)
            await self._guard(wait_for_http(f"{url}/ok", what=what, within=timeout))

    async def _start_broker(self) -> None:
        if not self._options.start_broker:
            logger.info("--no-broker: the worker and API use the NATS configured in broker.url")
            return
        await self._launch(nats_spec(self._settings))
        within = self._options.startup_timeout
        await self._guard(wait_for_nats(self._settings.broker.url, within=within))

    async def _await_worker(
        self, client: Client, spec: ChildSpec, within: float, pid: int | None = None
    ) -> None:
        # Only a warning: a turn started before the worker polls simply waits in the queue.
        try:
            calls = runs_calls_only(spec)
            await wait_for_worker(client, self._settings, within, pid=pid, calls=calls)
        except StartupError as exc:
            logger.warning("%s; chat turns will wait until a worker polls", exc)
        else:
            if pid is not None:
                logger.info("the new worker (pid %d) is polling", pid)

    async def _launch(self, spec: ChildSpec) -> Child:
        child = await Child.start(spec, cwd=REPO_ROOT, env=self._env)
        self._children.append(child)
        self._write_pids()
        return child

    async def _launch_worker(self, spec: ChildSpec) -> Child:
        self._started_at[spec.name] = asyncio.get_running_loop().time()
        return await self._launch(spec)

    def _write_pids(self) -> None:
        _replace_atomically(self._pids_file, {c.name: c.pid for c in self._children})

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
        while True:
            exits = {child.exited for child in self._children}
            await asyncio.wait({stop_requested, *exits}, return_when=asyncio.FIRST_COMPLETED)
            dead = self._first_dead()
            if stop_requested.done() or dead is None:
                logger.info("stopping the stack")
                return 0
            how = describe_exit(dead.exited.result())
            if dead.spec not in self._worker_specs:
                logger.error("%s stopped unexpectedly (%s); stopping the rest", dead.name, how)
                return 1
            if not await self._replace_worker(dead, how, stop_requested):
                return 1

    async def _replace_worker(
        self, dead: Child, how: str, stop_requested: asyncio.Task[bool]
    ) -> bool:
        """Start a new worker in the dead one's place; False when it is a crash loop."""
        lived = asyncio.get_running_loop().time() - self._started_at[dead.name]
        delay = self._crash_loop.delay_before_restart(lived)
        if delay is None:
            logger.error(
                "the worker exited within seconds of starting %d times in a row (last: %s); "
                "stopping the stack: its output above says why",
                self._crash_loop.fast_failures,
                how,
            )
            return False
        later = f" in {delay:.1f} s" if delay else ""
        logger.warning("worker (pid %d) exited (%s); starting a new one%s", dead.pid, how, later)
        await dead.stop(self._options.stop_grace)  # reaps whatever is left of its group
        if delay:
            await asyncio.wait({stop_requested}, timeout=delay)  # a back-off, not a sync
            if stop_requested.done():
                return True
        # Same slot, so shutdown still stops the API before the worker.
        slot = self._children.index(dead)
        self._started_at[dead.name] = asyncio.get_running_loop().time()
        worker = await Child.start(dead.spec, cwd=REPO_ROOT, env=self._env)
        self._children[slot] = worker
        self._write_pids()
        if self._client is not None:
            within = self._options.startup_timeout
            self._watch(self._await_worker(self._client, dead.spec, within, worker.pid))
        return True

    def _watch(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def _first_dead(self) -> Child | None:
        return next((child for child in self._children if child.exited.done()), None)

    async def _shutdown(self) -> None:
        for task in list(self._watchers):
            task.cancel()
        for child in reversed(self._children):
            await child.stop(self._options.stop_grace)
        self._pids_file.unlink(missing_ok=True)
        self._apis_file.unlink(missing_ok=True)
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


def _replace_atomically(path: Path, content: dict[str, Any]) -> None:
    """Readers (tests, an operator's script) see the old file or the new one, never a
    half-written one: the pids file is rewritten while they poll it (a worker replaced)."""
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(content))
    os.replace(staging, path)
