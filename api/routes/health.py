"""Liveness: answers without touching Temporal or the stores."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/ok")
@router.get("/healthz")
async def ok() -> dict[str, bool]:
    return {"ok": True}
