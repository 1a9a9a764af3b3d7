"""`GET /info`: what the server is, in the Agent Server's shape (chat UIs check it first)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter

from api.openapi import errors

router = APIRouter(tags=["meta"])


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@router.get("/info", responses=errors(401))
async def info() -> dict[str, Any]:
    return {
        "version": _version("chatstop"),
        "langgraph_py_version": _version("langgraph"),
        "flags": {"assistants": True, "crons": False, "langsmith": False},
        "host": {"kind": "chatstop", "project_id": None, "revision_id": None},
        "chatstop": {"temporal": True, "broker": "nats", "stop": ["interrupt", "rollback"]},
    }
