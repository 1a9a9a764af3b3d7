"""The whole stack in one test process, over real sockets: the Temporal dev server, the
scripted model, a worker and the API on a loopback port, driven by the real langgraph-sdk."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities.thread_store import ThreadStore, open_thread_store
from activities.tools import ToolActivities
from api.app import create_app
from core.settings import Settings, load_settings
from devstack.asgi import ServedApp, serve_app
from devstack.scripted_model.runner import RunningScriptedModel
from tests.support import TEST_GRAPHS, model_calls_closed
from worker.assembly import build_worker


@dataclass
class Stack:
    settings: Settings
    client: Client
    store: ThreadStore
    tools: ToolActivities
    model: RunningScriptedModel
    api: ServedApp
    data_dir: Path

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


def stack_settings(data_dir: Path, model: RunningScriptedModel, client: Client) -> Settings:
    return load_settings(
        temporal={
            "address": client.service_client.config.target_host,
            "task_queue": f"stack-{uuid.uuid4().hex[:8]}",
        },
        model={"base_url": model.base_url, "api_key": "scripted", "max_attempts": 2},
        store={"sqlite_path": str(data_dir / "threads.sqlite")},
    )


@asynccontextmanager
async def running_stack(
    client: Client, model: RunningScriptedModel, data_dir: Path
) -> AsyncIterator[Stack]:
    settings = stack_settings(data_dir, model, client)
    async with open_thread_store(settings) as store:
        assembled = build_worker(client, settings, store, extra_graph_refs=TEST_GRAPHS)
        async with assembled.worker:
            app = create_app(
                settings,
                temporal_client=client,
                thread_store=store,
                run_store_path=data_dir / "api.sqlite",
            )
            api = await serve_app(app, name="api")
            try:
                yield Stack(settings, client, store, assembled.tools, model, api, data_dir)
            finally:
                await api.stop()
