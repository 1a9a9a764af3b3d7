"""The whole stack in one test process, over real sockets: the Temporal dev server, NATS, the
scripted model, a worker and the API on a loopback port, driven by the real langgraph-sdk."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities.tools import ToolActivities
from api.app import create_app
from core.settings import BrokerSettings, Settings, load_settings
from devstack.asgi import ServedApp, serve_app
from devstack.scripted_model.runner import RunningScriptedModel
from stores.thread_store import ThreadStore
from tests.support import TEST_GRAPHS, model_calls_closed
from worker.__main__ import open_stores
from worker.assembly import Stores, build_worker


@dataclass
class Stack:
    settings: Settings
    client: Client
    stores: Stores
    tools: ToolActivities
    model: RunningScriptedModel
    api: ServedApp
    data_dir: Path

    @property
    def store(self) -> ThreadStore:
        return self.stores.threads

    @property
    def api_url(self) -> str:
        return self.api.url

    @property
    def model_log_url(self) -> str:
        return f"{self.model.root_url}/_scripted/log"

    def model_calls(self, marker: str) -> list[dict[str, Any]]:
        return self.model.request_log.snapshot(contains=marker)

    async def model_calls_closed(self, marker: str) -> list[dict[str, Any]]:
        return await model_calls_closed(self.model, marker)


def stack_settings(
    data_dir: Path, model: RunningScriptedModel, client: Client, broker: BrokerSettings
) -> Settings:
    return load_settings(
        temporal={
            "address": client.service_client.config.target_host,
            "task_queue": f"stack-{uuid.uuid4().hex[:8]}",
        },
        model={"base_url": model.base_url, "api_key": "scripted", "max_attempts": 2},
        store={
            "sqlite_path": str(data_dir / "threads.sqlite"),
            "records_path": str(data_dir / "records.sqlite"),
        },
        broker=broker.model_dump(),
    )


def with_overrides(settings: Settings, **overrides: Any) -> Settings:
    """Settings with some sections changed: a dict for a section merges into it (e.g.
    api={"api_keys": ...}); anything else (graphs) replaces the value."""
    update = {}
    for key, value in overrides.items():
        current = getattr(settings, key)
        merge = isinstance(value, dict) and hasattr(current, "model_copy")
        update[key] = current.model_copy(update=value) if merge else value
    return settings.model_copy(update=update)


def _app(stack: Stack, settings: Settings) -> Any:
    stores = stack.stores
    return create_app(
        settings,
        temporal_client=stack.client,
        thread_store=stores.threads,
        record_store=stores.records,
        broker=stores.broker,
    )


@asynccontextmanager
async def another_api(stack: Stack, **overrides: Any) -> AsyncIterator[str]:
    """A second API on the same worker, stores, broker and Temporal, with its own settings
    (e.g. API keys); yields its base URL."""
    settings = with_overrides(stack.settings, **overrides)
    api = await serve_app(_app(stack, settings), name="api-2")
    try:
        yield api.url
    finally:
        await api.stop()


@asynccontextmanager
async def running_stack(
    client: Client, model: RunningScriptedModel, data_dir: Path, broker: BrokerSettings
) -> AsyncIterator[Stack]:
    settings = stack_settings(data_dir, model, client, broker)
    async with open_stores(settings) as stores:
        assembled = build_worker(client, settings, stores, extra_graph_refs=TEST_GRAPHS)
        async with assembled:
            stack = Stack(settings, client, stores, assembled.tools, model, None, data_dir)  # type: ignore[arg-type]
            stack.api = await serve_app(_app(stack, settings), name="api")
            try:
                yield stack
            finally:
                await stack.api.stop()
