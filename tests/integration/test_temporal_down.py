"""Temporal going away under a connected API: every call that needs it answers 503 with
Retry-After within its RPC deadline, and nothing is recorded or lost. A private dev server
(the session's is shared) is started, connected to, then shut down."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from api.temporal_gateway import TemporalGateway
from stores.records import RunRecord, utc_now
from tests.conftest import start_dev_server
from tests.fixtures.nats import NatsServer
from tests.unit.api_harness import USER_MESSAGE, api_settings, running_api

pytestmark = pytest.mark.integration

BOUND_SECONDS = 15.0
"""A bound, not an exact time. The gateway gives each call a 5 s RPC deadline, within which
Temporal's client keeps retrying the lost connection (each call takes 5-6.5 s here); the
margin absorbs a loaded machine. Without the deadline the calls would hang."""


async def test_a_lost_temporal_is_a_bounded_503_for_runs_stops_and_deletes(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    env = await start_dev_server()
    address = env.client.service_client.config.target_host
    settings = api_settings(tmp_path, nats_server.url, temporal={"address": address})
    gateway = TemporalGateway(settings, env.client)
    async with running_api(
        tmp_path, nats_server.url, gateway=gateway, temporal={"address": address}
    ) as api:
        thread_id = await api.new_thread()
        running = RunRecord(  # a run admitted before Temporal went away
            run_id=str(uuid.uuid4()), thread_id=thread_id, assistant_id="agent",
            user_id="alice", created_at=utc_now(), updated_at=utc_now(), status="running",
        )  # fmt: skip
        await api.records.insert_run(running)
        await env.shutdown()
        timed: dict[str, tuple[float, int, str, str]] = {}
        for name, method, path, body in [
            ("create", "POST", f"/threads/{thread_id}/runs", {"assistant_id": "agent",
             "input": {"messages": [USER_MESSAGE]}}),
            ("stop", "POST", api.run_path(thread_id, running.run_id, "/cancel"), None),
            ("delete", "DELETE", f"/threads/{thread_id}", None),
        ]:  # fmt: skip
            started = time.monotonic()
            response = await api.http.request(method, path, json=body)
            timed[name] = (
                time.monotonic() - started,
                response.status_code,
                response.headers.get("retry-after", ""),
                response.json()["detail"],
            )
        runs = await api.records.list_runs(thread_id)
        still_there = await api.http.get(f"/threads/{thread_id}")

    for name, (elapsed, status, retry_after, detail) in timed.items():
        assert (status, retry_after) == (503, "5"), name
        assert detail.startswith(f"Temporal is unreachable at {address}: "), name
        assert elapsed < BOUND_SECONDS, (name, elapsed)
    assert [(run.run_id, run.status) for run in runs] == [(running.run_id, "running")]
    assert still_there.status_code == 200
