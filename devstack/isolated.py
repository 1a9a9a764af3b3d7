"""An isolated copy of the stack: every port free and ephemeral, every file in one folder.

Used by the launcher's own test and by the benchmarks, so neither touches a running
`make dev` stack or its history."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_ports() -> dict[str, int]:
    return {name: free_port() for name in ("grpc", "ui", "api", "model", "broker")}


def isolated_env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """This process's environment with the stack moved to `ports` and `data_dir`; a real
    model configured in the environment is dropped, so the scripted model answers. Without a
    "broker" port, NATS gets a free one anyway: never the one of a running `make dev`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSTOP_", "OPENAI_"))}
    broker = ports.get("broker") or free_port()
    env.update(
        CHATSTOP_DEV_SERVER__GRPC_PORT=str(ports["grpc"]),
        CHATSTOP_TEMPORAL__ADDRESS=f"127.0.0.1:{ports['grpc']}",
        CHATSTOP_DEV_SERVER__UI_PORT=str(ports["ui"]),
        CHATSTOP_API__PORT=str(ports["api"]),
        CHATSTOP_SCRIPTED_MODEL__PORT=str(ports["model"]),
        CHATSTOP_DEV_SERVER__DB_FILE=str(data_dir / "temporal.sqlite"),
        CHATSTOP_STORE__SQLITE_PATH=str(data_dir / "threads.sqlite"),
        CHATSTOP_STORE__RECORDS_PATH=str(data_dir / "records.sqlite"),
        CHATSTOP_BROKER__DEV_PORT=str(broker),
        CHATSTOP_BROKER__URL=f"nats://127.0.0.1:{broker}",
        CHATSTOP_BROKER__DEV_STORE_DIR=str(data_dir / "nats"),
    )
    return env
