"""The FastAPI application: a LangGraph Agent Server-compatible subset over Temporal.

`create_app` wires everything in the lifespan, taking what a test or another process
already has (a Temporal client, a thread store) and opening the rest itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from langgraph.store.memory import InMemoryStore
from temporalio.client import Client

from api.assistants import AssistantCatalog
from api.auth import build_authenticator
from api.browsers import install_browser_support
from api.deps import Services, get_caller
from api.http_errors import install_error_handling
from api.openapi import install_links
from api.routes import (
    assistants,
    cancel,
    health,
    info,
    page,
    runs,
    stateless,
    store,
    thread_state,
    threads,
)
from api.routes.page import STATIC_DIR
from api.runs_service import RunsService
from api.stop_notices import StopNotices
from api.temporal_gateway import TemporalGateway
from api.thread_state_service import ThreadStateService
from api.threads_service import ThreadsService
from api.values import ValuesExpander
from broker import Broker, open_broker
from core.settings import Settings
from stores.kv_store import open_kv_store
from stores.record_store import RecordStore, open_record_store
from stores.thread_store import ThreadStore, open_thread_store

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    temporal_client: Client | None = None,
    thread_store: ThreadStore | None = None,
    record_store: RecordStore | None = None,
    broker: Broker | None = None,
    gateway: TemporalGateway | None = None,
) -> FastAPI:
    """Build the API. Nothing connects until the lifespan starts, but an unsafe
    authentication set-up (no credentials outside development) refuses here, at once.

    Whatever is passed in (a Temporal client or a whole gateway, stores, a broker) is used as
    is; the rest is opened from the settings. Tests pass a fake gateway (the seam between the
    API and Temporal) to check the API's own behaviour without a server. With Temporal down
    the API still starts and answers 503 until it can connect; with the broker down it
    streams from the record.
    """
    app = FastAPI(
        title="chatstop",
        summary="LangGraph chat turns as durable Temporal workflows; Stop really stops.",
        lifespan=_lifespan(
            settings,
            gateway or TemporalGateway(settings, temporal_client),
            thread_store,
            record_store,
            broker,
        ),  # fmt: skip
    )
    app.state.settings = settings
    app.state.authenticator = build_authenticator(settings)
    install_error_handling(app, settings.limits)
    install_browser_support(app, settings)
    for module in (health, page):
        app.include_router(module.router)
    # Everything but liveness and the page's HTML needs a caller (api/auth.py).
    for module in (info, assistants, threads, thread_state, runs, stateless, cancel, store):
        app.include_router(module.router, dependencies=[Depends(get_caller)])
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    install_links(app)
    return app


def _lifespan(
    settings: Settings,
    gateway: TemporalGateway,
    thread_store: ThreadStore | None,
    record_store: RecordStore | None,
    broker: Broker | None,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Open what was not given, connect Temporal, and put the services on app.state."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            records = record_store
            if records is None:
                records = await stack.enter_async_context(open_record_store(settings))
            threads_store = thread_store
            if threads_store is None:
                threads_store = await stack.enter_async_context(open_thread_store(settings))
            live = broker
            if live is None:
                live = await stack.enter_async_context(
                    open_broker(settings.broker, name="chatstop-api")
                )
            kv = await stack.enter_async_context(open_kv_store(settings))
            await gateway.connect_quietly()
            services = _services(settings, records, threads_store, gateway, live)
            stack.push_async_callback(services.runs.stops.aclose)  # before the stores close
            app.state.services = replace(services, kv=kv)
            yield

    return lifespan


def _services(
    settings: Settings,
    records: RecordStore,
    thread_store: ThreadStore,
    gateway: TemporalGateway,
    broker: Broker,
) -> Services:
    catalog = AssistantCatalog(settings)
    notices = StopNotices(broker)
    runs_service = RunsService(settings, records, gateway, notices, catalog, thread_store)
    threads = ThreadsService(records, thread_store, runs_service, gateway, broker)
    return Services(
        settings=settings,
        assistants=catalog,
        threads=threads,
        runs=runs_service,
        broker=broker,
        thread_store=thread_store,
        values=ValuesExpander(thread_store),
        states=ThreadStateService(threads, records, thread_store),
        kv=InMemoryStore(),  # replaced by the configured store in the lifespan
    )
