"""What the dev stack runs: each child's command line, the ports it claims, its settings.

The launcher decides when; this module decides what, so the two can be read apart.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from core.settings import Settings
from core.temporal import dev_server_dynamic_config_args, venv_binary
from devstack.isolated import free_port
from devstack.nats_server import dev_url
from devstack.processes import ChildSpec
from devstack.readiness import PortClaim

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Options:
    start_temporal: bool = True
    """False: use the cluster at settings.temporal.address instead of a local dev server."""
    start_broker: bool = True
    """False: use the NATS at settings.broker.url instead of a local nats-server."""
    start_model: bool = True
    """False: do not start the scripted model even when no real model is configured."""
    startup_timeout: float = 60.0
    """Per service: how long it may take to answer its readiness probe."""
    stop_grace: float = 10.0
    """Per service: how long it may take to exit after SIGTERM before it is killed."""
    api_replicas: int = 1
    """API processes: more than one rehearses scale-out (any replica serves any thread)."""
    split_worker: bool = False
    """Two worker processes: workflow tasks in one, model and tool calls in the other."""


def stack_settings(settings: Settings, options: Options) -> Settings:
    """The servers the launcher runs are the ones every process must talk to."""
    updates: dict[str, object] = {}
    if options.start_temporal:
        address = f"127.0.0.1:{settings.dev_server.grpc_port}"
        if settings.temporal.address != address:
            logger.info(
                "temporal.address %s -> %s (the dev server)", settings.temporal.address, address
            )
        updates["temporal"] = settings.temporal.model_copy(update={"address": address})
    if options.start_broker:
        url = dev_url(settings)
        if settings.broker.url != url:
            logger.info("broker.url %s -> %s (the dev nats-server)", settings.broker.url, url)
        updates["broker"] = settings.broker.model_copy(update={"url": url})
    return settings.model_copy(update=updates)


def data_dir(settings: Settings) -> Path:
    return settings.data_path(settings.dev_server.db_file).parent


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["CHATSTOP_TEMPORAL__ADDRESS"] = settings.temporal.address
    env["CHATSTOP_BROKER__URL"] = settings.broker.url
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
    argv += dev_server_dynamic_config_args(dev)
    if dev.metrics_port:
        argv += ["--metrics-port", str(dev.metrics_port)]
    for pragma, value in dev.sqlite_pragmas.items():
        argv += ["--sqlite-pragma", f"{pragma}={value}"]
    for name, kind in dev.search_attributes.items():
        # Re-registering on a restart over the same history file is accepted as a no-op.
        argv += ["--search-attribute", f"{name}={kind}"]
    return ChildSpec("temporal", argv, mute_when_stopping=True)


def model_spec(settings: Settings) -> ChildSpec:
    model = settings.scripted_model
    argv = [sys.executable, "-m", "devstack.scripted_model"]
    return ChildSpec("model", [*argv, "--host", model.host, "--port", str(model.port)])


WORKER_SPEC = ChildSpec("worker", [sys.executable, "-m", "worker"])


ROLE_VARIABLE = "CHATSTOP_WORKER__ROLE"


def worker_specs(options: Options) -> list[ChildSpec]:
    """One worker for everything, or a split: the `worker` runs workflow tasks and the
    `worker-calls` runs model and tool calls, each with its own CPU and GIL, so a turn's
    next step (and a stopped turn's end) never waits behind the tokens of other answers."""
    if not options.split_worker:
        return [WORKER_SPEC]
    return [
        replace(WORKER_SPEC, env={ROLE_VARIABLE: "workflows"}),
        ChildSpec("worker-calls", WORKER_SPEC.argv, env={ROLE_VARIABLE: "activities"}),
    ]


def runs_calls_only(spec: ChildSpec) -> bool:
    """A worker that polls for activity tasks only (the split's `worker-calls`)."""
    return spec.env.get(ROLE_VARIABLE) == "activities"


API_SPEC = ChildSpec("api", [sys.executable, "-m", "api"])


def api_ports(settings: Settings, replicas: int) -> list[int]:
    """api.port for the first replica, a free ephemeral port for each further one: a fixed
    rule (api.port + 1, ...) would collide with the scripted model's 8001 under `make dev`.
    The banner and devstack.apis say where each one listens."""
    return [settings.api.port, *(free_port() for _ in range(replicas - 1))]


def api_spec(replica: int, port: int) -> ChildSpec:
    """Replica 1 is the plain `api`; replica i > 1 is `api-i`, its port set in its own
    environment (every process reads api.port from the settings)."""
    if replica == 1:
        return API_SPEC
    return ChildSpec(f"api-{replica}", API_SPEC.argv, env={"CHATSTOP_API__PORT": str(port)})


def port_claims(settings: Settings, options: Options, start_model: bool) -> list[PortClaim]:
    dev, model, api, broker = (
        settings.dev_server,
        settings.scripted_model,
        settings.api,
        settings.broker,
    )
    claims = []
    if options.start_temporal:
        claims += [
            PortClaim("127.0.0.1", dev.grpc_port, "Temporal dev server (gRPC)",
                      "CHATSTOP_DEV_SERVER__GRPC_PORT"),
            PortClaim("127.0.0.1", dev.ui_port, "Temporal Web UI", "CHATSTOP_DEV_SERVER__UI_PORT"),
        ]  # fmt: skip
    if options.start_broker:
        claims.append(
            PortClaim("127.0.0.1", broker.dev_port, "NATS server", "CHATSTOP_BROKER__DEV_PORT")
        )
        if broker.dev_monitor_port:
            claims.append(
                PortClaim("127.0.0.1", broker.dev_monitor_port, "NATS monitoring",
                          "CHATSTOP_BROKER__DEV_MONITOR_PORT")
            )  # fmt: skip
    if start_model:
        claims.append(
            PortClaim(model.host, model.port, "scripted model", "CHATSTOP_SCRIPTED_MODEL__PORT")
        )
    claims.append(PortClaim(api.host, api.port, "API", "CHATSTOP_API__PORT"))
    return claims
