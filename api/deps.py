"""FastAPI dependencies, as Annotated aliases routes declare by type.

Everything comes from `app.state.services`, wired once in the lifespan (api/app.py), so tests
build an app with their own settings and fakes instead of patching module globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from api.assistants import AssistantCatalog
from api.runs_service import RunsService
from api.threads_service import ThreadsService
from core.settings import Settings


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    assistants: AssistantCatalog
    threads: ThreadsService
    runs: RunsService


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _assistants(request: Request) -> AssistantCatalog:
    return _services(request).assistants


def _threads(request: Request) -> ThreadsService:
    return _services(request).threads


def _runs(request: Request) -> RunsService:
    return _services(request).runs


def get_caller(
    request: Request,
    x_api_key: Annotated[str | None, Header()] = None,
    x_user_id: Annotated[str | None, Header()] = None,
) -> str:
    """The user id behind the request: the stop actor and the turn's UserId attribute.

    With api_keys configured the key decides who the caller is; without (local development)
    the caller says who they are in x-user-id, or is "anonymous".
    """
    keys = _settings(request).api.api_keys
    if not keys:
        return x_user_id or "anonymous"
    if not x_api_key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing x-api-key header")
    if x_api_key not in keys:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Unknown API key")
    return keys[x_api_key]


SettingsDep = Annotated[Settings, Depends(_settings)]
CallerDep = Annotated[str, Depends(get_caller)]
AssistantsDep = Annotated[AssistantCatalog, Depends(_assistants)]
ThreadsDep = Annotated[ThreadsService, Depends(_threads)]
RunsDep = Annotated[RunsService, Depends(_runs)]
