"""The block of text `make dev` prints once every service answers: where to click next."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.auth import authentication_mode
from broker.connection import where
from core.settings import Settings

BANNER_LAST_LINE = "Ctrl-C stops everything."
"""Printed last: tests and scripts wait for it to know the stack is up."""

_OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
_RULE = "-" * 78


@dataclass(frozen=True, kw_only=True)
class StackFacts:
    """What the launcher learned while starting; the rest comes from the settings."""

    temporal_ui: str
    started_model: bool
    started_broker: bool = True
    data_dir: str
    pids: dict[str, int]
    apis: dict[str, str] = field(default_factory=dict)
    """{name: base URL} of every API replica (`api` is the one the other rows link to)."""


def browsable_host(host: str) -> str:
    """A wildcard bind address is not something a browser can open."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def api_base_url(settings: Settings, port: int | None = None) -> str:
    """Where the API (or, with `port`, one of its replicas) answers."""
    return f"http://{browsable_host(settings.api.host)}:{port or settings.api.port}"


def render_banner(settings: Settings, facts: StackFacts) -> str:
    api = api_base_url(settings)
    processes = ", ".join(f"{name} {pid}" for name, pid in facts.pids.items())
    rows = [
        ("Chat page", f"{api}/"),
        ("API docs", f"{api}/docs"),
        *_replica_rows(facts.apis),
        ("Temporal Web UI", facts.temporal_ui),
        ("Temporal gRPC", f"{settings.temporal.address} (namespace {settings.temporal.namespace})"),
        ("Broker", _broker_line(settings, facts.started_broker)),
        ("Model", _model_line(settings, facts.started_model)),
        ("Authentication", authentication_mode(settings)),
        ("Data dir", facts.data_dir),
        ("Processes", f"{processes} (pids)"),
    ]
    if "worker" in facts.pids:
        rows.append(("Rolling deploy", _rolling_deploy_line(facts.pids["worker"])))
    width = max(len(label) for label, _ in rows)
    body = [f"  {label:<{width}}  {value}" for label, value in rows]
    return "\n".join([_RULE, "chatstop dev stack is up", *body, BANNER_LAST_LINE, _RULE])


def _replica_rows(apis: dict[str, str]) -> list[tuple[str, str]]:
    """One row per further API replica; none when there is only the one."""
    return [
        (f"API replica {name}", f"{url}/ (same threads, runs and streams as any other)")
        for name, url in apis.items()
        if name != "api"
    ]


def _broker_line(settings: Settings, started_broker: bool) -> str:
    note = "" if started_broker else "; not started here: --no-broker"
    return f"NATS JetStream at {where(settings.broker)} (live tokens, Stop fast path{note})"


def _rolling_deploy_line(worker_pid: int) -> str:
    return f"kill -INT {worker_pid}; a new worker takes over and running answers carry on"


def _model_line(settings: Settings, started_model: bool) -> str:
    if not settings.uses_scripted_model:
        url = settings.model_base_url or _OPENAI_DEFAULT_URL
        return f"{settings.model_name} at {url}"
    note = "" if started_model else " (not started here: --no-model)"
    return (
        f"scripted at {settings.model_base_url}{note} - a development and test double; "
        "set OPENAI_API_KEY to use a real model"
    )
