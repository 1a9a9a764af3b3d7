"""The API under test, with everything real but Temporal (this module holds no tests).

`FakeGateway` stands in for api.temporal_gateway.TemporalGateway, the API's one seam to
Temporal: it records every question the API asks and answers as the test decides. The rest
is real: a RecordStore and a ThreadStore on the test's own SQLite files, and a Broker with a
stream of its own on the session's NATS server. `FakeWorker` does what the worker's
activities would do to those stores (start a run, publish its events, end it), so a test
drives every state change itself and never waits on a clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.temporal_gateway import TemporalGateway
from broker import Broker, open_broker
from core.contracts import Message, StopRequest, TurnOutcome
from core.live import Live, encode
from core.settings import Settings, load_settings
from core.thread_contracts import RunAdmission, RunRequest
from stores.record_store import RecordStore
from stores.records import RunRecord, outcome_to_dict
from stores.thread_store import ThreadStore, open_thread_store
from tests.fixtures.nats import drop_stream, settings_for

USER_MESSAGE = {"role": "user", "content": "hello there"}
USER = "alice"
UNKNOWN_RUN = "00000000-0000-4000-8000-000000000000"

Hook = Callable[[str, str, StopRequest], Awaitable[None]]


@dataclass
class FakeGateway:
    """What the API asked Temporal, and Temporal's answers as the test wants them."""

    submitted: list[tuple[RunRequest, str]] = field(default_factory=list)
    turn_cancels: list[tuple[str, str, StopRequest]] = field(default_factory=list)
    pending_cancels: list[tuple[str, str, StopRequest]] = field(default_factory=list)
    stop_signals: list[tuple[str, str, StopRequest]] = field(default_factory=list)
    closed_threads: list[tuple[str, StopRequest]] = field(default_factory=list)
    refuse: Exception | None = None
    """Raised by every Temporal call (a refusal, or Temporal being down)."""
    superseded: list[str] = field(default_factory=list)
    """What the next admission says it superseded (interrupt / rollback)."""
    open_turns: set[str] = field(default_factory=set)
    """Runs with a turn workflow: cancel_turn reaches them, cancel_pending answers running."""
    pending_fates: list[str] = field(default_factory=list)
    """cancel_pending's answers, in order; "unknown" once they run out."""
    on_cancel_turn: Hook | None = None
    """What "Temporal" does when a turn is cancelled (e.g. the worker ends the run)."""
    on_cancel_pending: Hook | None = None

    async def connect_quietly(self) -> None:
        pass

    async def submit_run(self, request: RunRequest, owner: str) -> RunAdmission:
        self._maybe_refuse()
        self.submitted.append((request, owner))
        superseded, self.superseded = self.superseded, []
        return RunAdmission(run_id=request.run_id, status="running", superseded=superseded)

    async def cancel_turn(
        self, thread_id: str, run_id: str, stop: StopRequest, workflow_id: str = ""
    ) -> bool:
        self._maybe_refuse()
        self.turn_cancels.append((thread_id, run_id, stop))
        if run_id not in self.open_turns:
            return False
        if self.on_cancel_turn is not None:
            await self.on_cancel_turn(thread_id, run_id, stop)
        return True

    async def cancel_pending(self, thread_id: str, run_id: str, stop: StopRequest) -> str:
        self._maybe_refuse()
        self.pending_cancels.append((thread_id, run_id, stop))
        fate = self.pending_fates.pop(0) if self.pending_fates else "unknown"
        if fate == "running":
            self.open_turns.add(run_id)
        if self.on_cancel_pending is not None:
            await self.on_cancel_pending(thread_id, run_id, stop)
        return fate

    async def stop_requested(self, thread_id: str, run_id: str, stop: StopRequest) -> None:
        self.stop_signals.append((thread_id, run_id, stop))

    async def close_thread(self, thread_id: str, stop: StopRequest) -> None:
        self._maybe_refuse()
        self.closed_threads.append((thread_id, stop))

    def _maybe_refuse(self) -> None:
        if self.refuse is not None:
            raise self.refuse


def stopped_outcome(stop: StopRequest, **fields: Any) -> dict[str, Any]:
    outcome = TurnOutcome(
        status="interrupted", turn_status="stopped", outcome="interrupted", stop=stop, **fields
    )
    return outcome_to_dict(outcome) or {}


def completed_outcome(**fields: Any) -> dict[str, Any]:
    outcome = TurnOutcome(status="success", turn_status="completed", outcome="completed", **fields)
    return outcome_to_dict(outcome) or {}


@dataclass
class FakeWorker:
    """The worker's side effects on the real stores and broker, done when a test says."""

    records: RecordStore
    threads: ThreadStore
    broker: Broker

    async def run(self, thread_id: str, run_id: str) -> RunRecord:
        record = await self.records.get_run(thread_id, run_id)
        assert record is not None, f"run {run_id} has no record"
        return record

    async def start(self, thread_id: str, run_id: str) -> None:
        await self.records.mark_running(await self.run(thread_id, run_id))

    async def publish(self, run_id: str, kind: Live, body: Any) -> int:
        """One live event, as an activity publishes it; returns its broker sequence."""
        return await self.broker.publish(run_id, encode(kind, body))

    async def finish(
        self,
        thread_id: str,
        run_id: str,
        outcome: dict[str, Any] | None = None,
        *,
        messages: list[Message] | None = None,
        publish_end: bool = True,
    ) -> RunRecord:
        """Commit the turn's messages, record its end, then publish `end`, in that order."""
        outcome = outcome or completed_outcome()
        if messages:
            await self.threads.commit(thread_id, messages)
        ended = await self.records.finish_run(
            await self.run(thread_id, run_id), outcome["status"], outcome
        )
        if publish_end:
            await self.publish(run_id, Live.END, outcome)
        return ended

    def ends_on_cancel(self) -> Hook:
        """Like a real turn: a stop ends the run interrupted, naming the stop."""

        async def end(thread_id: str, run_id: str, stop: StopRequest) -> None:
            await self.finish(thread_id, run_id, stopped_outcome(stop))

        return end


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    gateway: FakeGateway
    worker: FakeWorker
    records: RecordStore
    thread_store: ThreadStore
    broker: Broker
    settings: Settings

    async def new_thread(self, **body: Any) -> str:
        response = await self.http.post("/threads", json=body)
        assert response.status_code == 200, response.text
        thread_id: str = response.json()["thread_id"]
        return thread_id

    async def start_run(self, thread_id: str, text: str = "hello there", **body: Any) -> str:
        """A run the fake Temporal admitted and the fake worker started; its id."""
        payload = {
            "assistant_id": "agent",
            "input": {"messages": [{"role": "user", "content": text}]},
            **body,
        }
        response = await self.http.post(f"/threads/{thread_id}/runs", json=payload)
        assert response.status_code == 200, response.text
        run_id: str = response.json()["run_id"]
        self.gateway.open_turns.add(run_id)
        await self.worker.start(thread_id, run_id)
        return run_id

    def run_path(self, thread_id: str, run_id: str, suffix: str = "") -> str:
        return f"/threads/{thread_id}/runs/{run_id}{suffix}"


def api_settings(tmp_path: Path, nats_url: str, **overrides: Any) -> Settings:
    """The test's own data files and broker stream; everything else as configured."""
    return load_settings(
        store={
            "sqlite_path": str(tmp_path / "threads.sqlite"),
            "records_path": str(tmp_path / "records.sqlite"),
        },
        broker=settings_for(nats_url).model_dump(),
        **overrides,
    )


@contextlib.asynccontextmanager
async def running_api(
    tmp_path: Path, nats_url: str, *, gateway: Any = None, **settings_overrides: Any
) -> AsyncIterator[Api]:
    """The app with its lifespan running, reached in-process through httpx's ASGI
    transport as `alice` (open development access: the caller is who x-user-id says).
    `gateway` defaults to a FakeGateway; a test may pass a real TemporalGateway."""
    settings = api_settings(tmp_path, nats_url, **settings_overrides)
    fake = FakeGateway() if gateway is None else gateway
    records = RecordStore.from_settings(settings)
    await records.open()
    try:
        async with (
            open_thread_store(settings) as thread_store,
            open_broker(settings.broker, name="api-test") as broker,
        ):
            app = create_app(
                settings,
                thread_store=thread_store,
                record_store=records,
                broker=broker,
                gateway=cast(TemporalGateway, fake),
            )
            worker = FakeWorker(records, thread_store, broker)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://api", headers={"x-user-id": USER}
                ) as http:
                    yield Api(app, http, fake, worker, records, thread_store, broker, settings)
    finally:
        await records.close()
        with contextlib.suppress(Exception):
            await drop_stream(settings.broker)
