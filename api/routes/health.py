"""Liveness: answers without touching Temporal or the stores."""

from __future__ import annotations

from fastapi import APIRouter

from api.responses import Health, success

router = APIRouter(tags=["health"])


@router.get("/ok", response_model=None, responses=success(Health))
@router.get("/healthz", response_model=None, responses=success(Health))
async def ok() -> dict[str, bool]:
    return {"ok": True}
