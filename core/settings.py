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
from pydantic import BaseModel, Field
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


class DevServerSettings(BaseModel):
    grpc_port: int = 7233
    ui_port: int = 8233
    db_file: str = ".data/temporal.sqlite"
    metrics_port: int | None = None
    """Prometheus /metrics of the dev server (benchmarks read heartbeat RPC counts there)."""
    search_attributes: dict[str, str] = Field(
        default_factory=lambda: {
            "ThreadId": "Keyword",
            "UserId": "Keyword",
            "TurnStatus": "Keyword",
        }
    )


class HeartbeatSettings(BaseModel):
    timeout_seconds: float = 10.0
    """Heartbeat timeout of streaming and tool activities: how soon a dead worker is noticed."""
    throttle_ms: float = 20.0
    """Worker heartbeat throttle: the main term in how fast a cancel reaches an activity."""


class StreamingSettings(BaseModel):
    batch_interval_ms: float = 40.0
    """First flush interval of an activity's events (library default is 2 s: far too slow)."""
    batch_growth_ms_per_s: float = 10.0
    """How much the interval grows per second of streaming: long answers cost less history."""
    max_batch_interval_ms: float = 400.0
    """Upper bound of the flush interval."""
    poll_cooldown_ms: float = 20.0
    """Pause between polls of a caught-up subscriber."""


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: dict[str, str] = Field(default_factory=dict)
    """API key -> user id. Empty turns authentication off (local development)."""


class ModelSettings(BaseModel):
    name: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = None
    max_attempts: int = 3


class ScriptedModelSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8001


class StoreSettings(BaseModel):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: str = ".data/threads.sqlite"
    postgres_url: str | None = None


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
    streaming: StreamingSettings = Field(default_factory=StreamingSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    scripted_model: ScriptedModelSettings = Field(default_factory=ScriptedModelSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    graphs: dict[str, str] = Field(default_factory=lambda: {"agent": "agents.react:graph"})

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
