"""FastAPI dependencies, as Annotated aliases routes declare by type.

Everything comes from `app.state.services`, wired once in the lifespan (api/app.py), so tests
build an app with their own settings and fakes instead of patching module globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from langgraph.store.base import BaseStore

from api.assistants import AssistantCatalog
from api.auth import AuthenticationFailed, authenticate
from api.runs_service import RunsService
from api.thread_state_service import ThreadStateService
from api.threads_service import ThreadsService
from api.values import ValuesExpander
from broker import Broker
from core.ids import RUN_ID_PATTERN, THREAD_ID_PATTERN, THREAD_ID_RULE
from core.settings import Settings
from stores.thread_store import ThreadStore


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    assistants: AssistantCatalog
    threads: ThreadsService
    runs: RunsService
    broker: Broker
    thread_store: ThreadStore
    values: ValuesExpander
    states: ThreadStateService
    kv: BaseStore


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


async def get_caller(request: Request) -> str:
    """The user id behind the request (api/auth.py): it owns what it creates, and it is the
    stop actor and the turn's UserId attribute."""
    try:
        return await authenticate(request.app.state.authenticator, request)
    except AuthenticationFailed as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc


ThreadId = Annotated[str, Path(pattern=THREAD_ID_PATTERN, description=THREAD_ID_RULE)]
RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="A run id (UUID)")]


def _states(request: Request) -> ThreadStateService:
    return _services(request).states


def _kv(request: Request) -> BaseStore:
    return _services(request).kv


KvStoreDep = Annotated[BaseStore, Depends(_kv)]
SettingsDep = Annotated[Settings, Depends(_settings)]
StatesDep = Annotated[ThreadStateService, Depends(_states)]
CallerDep = Annotated[str, Depends(get_caller)]
AssistantsDep = Annotated[AssistantCatalog, Depends(_assistants)]
ThreadsDep = Annotated[ThreadsService, Depends(_threads)]
RunsDep = Annotated[RunsService, Depends(_runs)]
