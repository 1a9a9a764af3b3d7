"""One settings object for every chatstop process.

Values come from temporal-dev.yaml (or the file named by CHATSTOP_CONFIG), and environment
variables override them (CHATSTOP_<SECTION>__<KEY>). The object is built by each entry point
at start-up and passed down, never created at import time, so tests can hand in their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "temporal-dev.yaml"


class TemporalSettings(BaseModel):
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "chatstop"
    tls: bool = False
    tls_cert_path: str | None = None
    tls_key_path: str | None = None
    api_key: str | None = None


DynamicConfigValue = bool | int | float | str
DEV_SERVER_DYNAMIC_CONFIG: dict[str, DynamicConfigValue] = {
    "matching.useNewMatcher": True,
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
}


class DevServerSettings(BaseModel):
    grpc_port: int = 7233
    ui_port: int = 8233
    db_file: str = ".data/temporal.sqlite"
    sqlite_pragmas: dict[str, str] = Field(
        default_factory=lambda: {"journal_mode": "wal", "synchronous": "normal"}
    )
    """The dev server's SQLite: WAL and no fsync per transaction (measured: 20 turns
    starting at once wait seconds for their history writes otherwise)."""
    metrics_port: int | None = None
    """Prometheus /metrics of the dev server (benchmarks read heartbeat RPC counts there)."""
    dynamic_config: dict[str, DynamicConfigValue] = Field(
        default_factory=lambda: dict(DEV_SERVER_DYNAMIC_CONFIG)
    )
    """The dev server's dynamic config. `matching.useNewMatcher` turns on task priority,
    which this server version leaves off: a turn's tasks (priority 1) then go ahead of new
    admissions, so a burst of new runs reaches its first tokens turn by turn instead of all
    at the end (newer servers and Temporal Cloud have it on). One partition per task queue
    makes that order hold across the whole queue, not within each of four partitions; one
    server on one machine gains nothing from partitions."""
    search_attributes: dict[str, str] = Field(
        default_factory=lambda: {
            "ThreadId": "Keyword",
            "UserId": "Keyword",
            "TurnStatus": "Keyword",
            "StoppedBy": "Keyword",
        }
    )


class HeartbeatSettings(BaseModel):
    timeout_seconds: float = 30.0
    """Heartbeat timeout of streaming and tool activities: how soon a dead worker is noticed."""
    throttle_ms: float = 5000.0
    """Worker heartbeat throttle. Heartbeats are liveness only (a Stop travels on the broker),
    so this is also how long Temporal's fallback cancel may take when the broker is down."""


class WorkerSettings(BaseModel):
    role: Literal["all", "workflows", "activities"] = "all"
    """What this worker process runs. Split roles put workflow tasks and streaming calls
    in separate processes (each with its own CPU and GIL), so neither waits behind the
    other; `all` is one process for small set-ups."""
    sandbox: bool = True
    """Run workflow code in Temporal's sandbox (guards against non-deterministic agent code)."""
    max_concurrent_activities: int = 200
    max_concurrent_workflow_tasks: int | None = Field(default=None, gt=0)
    """Workflow tasks this worker runs at once; None is the SDK's default."""
    workflow_task_pollers: int = 10
    gil_switch_interval_ms: float = Field(default=1.0, gt=0)
    """How long one thread may hold the GIL while another waits (Python's default: 5 ms).
    Workflow activations run in Temporal's thread pool; the event loop that carries stop
    notices and tokens waits up to this long each time it wants the GIL back. Measured at
    1 ms: Stop → disconnect p95 with 20 streams lower in 5 of 6 alternated runs (median
    114 vs 162 ms), CPU per token no different."""


class ToolSettings(BaseModel):
    max_threads: int = 16
    """Threads for sync tools; a tool that ignores a stop holds one until it returns."""
    compensation_threads: int = 4
    """Threads reserved for compensations, so a rollback never waits behind stuck tools."""
    stop_grace_seconds: float = 10.0
    """How long a stopped sync tool may take to notice before the call reports it stopped."""


class LimitSettings(BaseModel):
    max_body_bytes: int = 1_000_000
    """Request bodies larger than this get 413 before anything is parsed."""
    max_input_bytes: int = 256_000
    """A run's input messages (serialized) larger than this get 413."""
    max_input_messages: int = 100
    """More input messages than this in one run get 422."""
    max_wait_seconds: float = 600.0
    """The longest any request waits for a run (join, wait, cancel?wait=true)."""
    stop_grace_seconds: float = 60.0
    """A stopped turn that has not ended after this is terminated (its run: error)."""
    turn_check_seconds: float = 120.0
    """A thread asks Temporal whether its turn is still open after this long, then at
    twice the interval each time (up to an hour): a turn that closed without ending its
    run (terminated by hand) stops holding the thread. Answers shorter than this cost no
    check."""
    temporary_thread_seconds: float = 60.0
    """A stateless run's own thread (`on_completion: "delete"`) is deleted this long after the
    run ends, whether or not anyone waited for it (a background `POST /runs`, a stream whose
    client left); meanwhile its outcome can still be read."""
    turn_deadline_seconds: float | None = 900.0
    """A turn's active time (waiting for approval not counted) is bounded by this; past
    it, the turn ends keeping what it has (reason "deadline"). None: unbounded."""


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    environment: Literal["development", "production"] = "development"
    """production refuses to start without real credentials (see api/auth.py)."""
    api_keys: dict[str, str] = Field(default_factory=dict)
    """API key -> user id. Also CHATSTOP_API_KEYS="key1:alice,key2:bob". Empty, with no
    authenticator, means open access: allowed only in development."""
    cors_origins: list[str] | None = None
    """Browser origins allowed to call the API (CORS). None: any in development, none in
    production; e.g. ["https://chat.example.com"]."""
    authenticator: str | None = None
    """"module:function" turning a request into a user id (e.g. verifying your JWTs);
    replaces the API keys."""


class ModelSettings(BaseModel):
    name: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = None
    max_attempts: int = 3
    stream_idle_timeout_seconds: float = 30.0
    """A model stream silent this long fails as "stalled" (and is retried)."""


class ScriptedModelSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8001


class StoreSettings(BaseModel):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: str = ".data/threads.sqlite"
    """Thread state (the LangGraph checkpointer) with the sqlite backend."""
    records_path: str = ".data/records.sqlite"
    """Thread and run records with the sqlite backend (Postgres keeps both in one database)."""
    postgres_url: str | None = None


def parse_api_keys(text: str) -> dict[str, str]:
    """ "key1:alice,key2:bob" -> {"key1": "alice", "key2": "bob"}."""
    keys: dict[str, str] = {}
    for item in text.split(","):
        key, sep, user = item.strip().rpartition(":")
        if not item.strip():
            continue
        if not sep or not key.strip() or not user.strip():
            raise ValueError(f"CHATSTOP_API_KEYS entries look like key:user, got {item.strip()!r}")
        keys[key.strip()] = user.strip()
    return keys


class BrokerSettings(BaseModel):
    """NATS JetStream: live tokens and the Stop fast path (Temporal stays the record)."""

    url: str = "nats://127.0.0.1:4222"
    """Comma-separated server URLs; production points at an existing NATS cluster."""
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: str | None = None
    """A NATS .creds file (JWT + nkey seed), e.g. for Synadia Cloud."""
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    stream: str = "CHATSTOP_RUNS"
    """The JetStream stream holding every run's live events."""
    subject_prefix: str = "chatstop"
    retention_seconds: float = 3600.0
    """How long a run's live events stay replayable (the stream's max_age)."""
    duplicate_window_seconds: float = 600.0
    """A re-publish with the same message id inside this window is stored once."""
    storage: Literal["file", "memory"] = "file"
    replicas: int = 1
    coalesce_ms: float = 5.0
    """At most one socket write of fire-and-forget events (tokens) per window: CPU for
    latency under load (a token waits at most this long; after a quiet spell it leaves at
    once). Measured with 20 streams: 10 ms instead of 2 cut the worker's, broker's and
    API's CPU by about a tenth and doubled the token latency p50 (8 to 14 ms)."""
    publish_timeout_seconds: float = 2.0
    """How long an acked publish (or a stop notice) may wait before BrokerUnavailable."""
    connect_timeout_seconds: float = 2.0
    """How long start-up waits for NATS; after that it keeps reconnecting in the background."""
    dev_port: int = 4222
    dev_store_dir: str = ".data/nats"
    dev_monitor_port: int | None = None
    """nats-server's HTTP monitoring port in the dev stack (null = off)."""


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML file as the lowest-priority source (env vars win)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path.exists():
            self._data = yaml.safe_load(path.read_text()) or {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATSTOP_", env_nested_delimiter="__")

    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    dev_server: DevServerSettings = Field(default_factory=DevServerSettings)
    heartbeat: HeartbeatSettings = Field(default_factory=HeartbeatSettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    scripted_model: ScriptedModelSettings = Field(default_factory=ScriptedModelSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    graphs: dict[str, str] = Field(default_factory=lambda: {"agent": "agents.react:graph"})
    api_keys: str | None = Field(default=None, exclude=True)
    """CHATSTOP_API_KEYS="key1:alice,key2:bob": merged into api.api_keys at start-up."""

    @model_validator(mode="after")
    def _merge_api_keys(self) -> Settings:
        if self.api_keys:
            self.api.api_keys = {**self.api.api_keys, **parse_api_keys(self.api_keys)}
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("CHATSTOP_CONFIG", DEFAULT_CONFIG))
        return (init_settings, env_settings, _YamlSource(settings_cls, path))

    # --- derived values -------------------------------------------------------------------

    @property
    def uses_scripted_model(self) -> bool:
        """True when no real model is configured: the local scripted double answers."""
        return not (self.model.api_key or os.environ.get("OPENAI_API_KEY"))

    @property
    def model_base_url(self) -> str | None:
        if self.model.base_url or os.environ.get("OPENAI_BASE_URL"):
            return self.model.base_url or os.environ.get("OPENAI_BASE_URL")
        if self.uses_scripted_model:
            return f"http://{self.scripted_model.host}:{self.scripted_model.port}/v1"
        return None  # the OpenAI default

    @property
    def model_api_key(self) -> str:
        return self.model.api_key or os.environ.get("OPENAI_API_KEY") or "scripted-model"

    @property
    def model_name(self) -> str:
        return os.environ.get("OPENAI_MODEL") or self.model.name

    def data_path(self, relative: str) -> Path:
        """Resolve a configured path against the repo root and create its folder."""
        path = Path(relative)
        if not path.is_absolute():
            path = REPO_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def load_settings(**overrides: Any) -> Settings:
    """Build the settings at start-up; keyword overrides win over env and YAML."""
    return Settings(**overrides)
