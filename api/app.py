"""The FastAPI application: a LangGraph Agent Server-compatible subset over Temporal.

`create_app` wires everything in the lifespan, taking what a test or another process
already has (a Temporal client, a thread store) and opening the rest itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

from activities.thread_store import ThreadStore, open_thread_store
from api.assistants import AssistantCatalog
from api.deps import Services, get_caller
from api.http_errors import install_error_handling
from api.routes import assistants, cancel, health, page, runs, threads
from api.routes.page import STATIC_DIR
from api.run_store import RunStore
from api.run_tracker import RunTracker
from api.runs_service import RunsService
from api.temporal_gateway import TemporalGateway
from api.threads_service import ThreadsService
from core.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_RUN_STORE = ".data/api.sqlite"


def create_app(
    settings: Settings,
    *,
    temporal_client: Client | None = None,
    thread_store: ThreadStore | None = None,
    run_store_path: Path | None = None,
) -> FastAPI:
    """Build the API. Nothing connects until the lifespan starts.

    temporal_client: used as is; without one the lifespan connects with the settings, and if
    Temporal is down the API still starts and answers 502 until it can connect.
    thread_store: used as is; without one the configured checkpointer is opened.
    run_store_path: SQLite file for thread and run records (default .data/api.sqlite).
    """
    app = FastAPI(
        title="chatstop",
        summary="LangGraph chat turns as durable Temporal workflows; Stop really stops.",
        lifespan=_lifespan(settings, temporal_client, thread_store, run_store_path),
    )
    app.state.settings = settings
    install_error_handling(app)
    for module in (health, page):
        app.include_router(module.router)
    # Everything that reads or changes threads and runs needs a caller (x-api-key when set).
    for module in (assistants, threads, runs, cancel):
        app.include_router(module.router, dependencies=[Depends(get_caller)])
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app


def _lifespan(
    settings: Settings,
    temporal_client: Client | None,
    thread_store: ThreadStore | None,
    run_store_path: Path | None,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Open the stores, connect Temporal, and put the services on app.state."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            store = RunStore(run_store_path or settings.data_path(DEFAULT_RUN_STORE))
            await store.open()
            stack.push_async_callback(store.close)
            threads_store = thread_store
            if threads_store is None:
                threads_store = await stack.enter_async_context(open_thread_store(settings))
            gateway = TemporalGateway(settings, temporal_client)
            if temporal_client is None:
                await gateway.connect_quietly()
            services = _services(settings, store, threads_store, gateway)
            await services.runs.resume()
            stack.push_async_callback(services.runs.shutdown)
            app.state.services = services
            yield

    return lifespan


def _services(
    settings: Settings, store: RunStore, thread_store: ThreadStore, gateway: TemporalGateway
) -> Services:
    catalog = AssistantCatalog(settings)
    runs_service = RunsService(store, RunTracker(settings, store, gateway), catalog)
    return Services(
        settings=settings,
        assistants=catalog,
        threads=ThreadsService(store, thread_store, runs_service),
        runs=runs_service,
    )
