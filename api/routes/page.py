"""The chat page (api/static) and the settings it needs. The page itself is public (it is
where a user types their key); its configuration, like every API call, needs a caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import FileResponse

from api.deps import AssistantsDep, SettingsDep, get_caller
from api.openapi import errors
from api.responses import PageConfig, success

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["page"])


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"The chat page is missing: {page}")
    return FileResponse(page)


@router.get(
    "/chatstop/config",
    dependencies=[Depends(get_caller)],
    response_model=None,
    responses={**success(PageConfig), **errors(401)},
)
async def page_config(settings: SettingsDep, assistants: AssistantsDep) -> dict[str, Any]:
    return {
        "temporal_ui": f"http://127.0.0.1:{settings.dev_server.ui_port}",
        "namespace": settings.temporal.namespace,
        "assistant_id": assistants.first_id(),
    }
