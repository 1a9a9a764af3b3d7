"""Shared helpers for the API unit tests (this module holds no tests itself).

`FakeTemporal` stands in for `temporalio.client.Client` with just what the API calls:
start_workflow, and handles with describe / result / cancel. A workflow "runs" until the
test finishes it, so every wait in the API is driven by the test, never by a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from core.contracts import StopRequest, TurnOutcome
from core.settings import Settings, load_settings
from stores.thread_store import ThreadStore, open_thread_store

USER_MESSAGE = {"role": "user", "content": "hello there"}


@dataclass
class StartCall:
    workflow: str
    arg: Any
    kwargs: dict[str, Any]


@dataclass
class FakeTemporal:
    starts: list[StartCall] = field(default_factory=list)
    cancels: list[tuple[str, str]] = field(default_factory=list)
    statuses: dict[str, WorkflowExecutionStatus] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    closed: dict[str, asyncio.Event] = field(default_factory=dict)
    complete_on_cancel: bool = False
    """Like the real turn workflow: a cancel ends the turn with an interrupted outcome."""
    start_count_changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start_workflow(self, workflow: str, arg: Any, **kwargs: Any) -> None:
        self.statuses[kwargs["id"]] = WorkflowExecutionStatus.RUNNING
        self.closed[kwargs["id"]] = asyncio.Event()
        async with self.start_count_changed:
            self.starts.append(StartCall(workflow, arg, kwargs))
            self.start_count_changed.notify_all()

    async def wait_for_starts(self, count: int) -> None:
        async with self.start_count_changed:
            await self.start_count_changed.wait_for(lambda: len(self.starts) >= count)

    def get_workflow_handle(self, workflow_id: str, **_: Any) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    def finish(self, workflow_id: str, outcome: TurnOutcome) -> None:
        self._close(workflow_id, WorkflowExecutionStatus.COMPLETED, outcome)

    def fail(self, workflow_id: str, error: BaseException) -> None:
        self._close(workflow_id, WorkflowExecutionStatus.FAILED, WorkflowFailureError(cause=error))

    def _close(self, workflow_id: str, status: WorkflowExecutionStatus, result: Any) -> None:
        self.statuses[workflow_id] = status
        self.results[workflow_id] = result
        self.closed.setdefault(workflow_id, asyncio.Event()).set()


class FakeHandle:
    def __init__(self, fake: FakeTemporal, workflow_id: str) -> None:
        self._fake = fake
        self.id = workflow_id

    async def describe(self) -> Any:
        if self.id not in self._fake.statuses:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return SimpleNamespace(status=self._fake.statuses[self.id])

    async def result(self) -> Any:
        await self._fake.closed.setdefault(self.id, asyncio.Event()).wait()
        result = self._fake.results[self.id]
        if isinstance(result, BaseException):
            raise result
        return result

    async def cancel(self, *, reason: str = "") -> None:
        self._fake.cancels.append((self.id, reason))
        if self._fake.statuses.get(self.id) != WorkflowExecutionStatus.RUNNING:
            raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
        if self._fake.complete_on_cancel:
            stop = StopRequest.from_cancel_reason(reason)
            outcome = TurnOutcome(
                status="interrupted", turn_status="stopped", stop=stop, outcome="interrupted"
            )
            self._fake.finish(self.id, outcome)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return load_settings(
        store={
            "sqlite_path": str(tmp_path / "threads.sqlite"),
            "records_path": str(tmp_path / "records.sqlite"),
        },
        **overrides,
    )


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    temporal: FakeTemporal
    thread_store: ThreadStore
    settings: Settings

    async def new_thread(self, **body: Any) -> str:
        response = await self.http.post("/threads", json=body)
        assert response.status_code == 200, response.text
        thread_id: str = response.json()["thread_id"]
        return thread_id


@contextlib.asynccontextmanager
async def running_api(tmp_path: Path, **settings_overrides: Any) -> AsyncIterator[Api]:
    """The app with its lifespan running, a temp-dir thread store and run store, and a fake
    Temporal client, reached in-process through httpx's ASGI transport."""
    settings = make_settings(tmp_path, **settings_overrides)
    temporal = FakeTemporal()
    async with open_thread_store(settings) as thread_store:
        app = create_app(
            settings,
            temporal_client=temporal,  # type: ignore[arg-type]
            thread_store=thread_store,
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            # Open development access: the caller is who x-user-id says.
            headers = {"x-user-id": "alice"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api", headers=headers
            ) as http:
                yield Api(app, http, temporal, thread_store, settings)
