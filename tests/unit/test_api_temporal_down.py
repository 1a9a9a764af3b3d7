"""Temporal down or refusing: a quick 503 with Retry-After (or a 502 with Temporal's
reason), and nothing recorded, so a retry later starts from a clean slate."""

from __future__ import annotations

import time
from pathlib import Path

from api.errors import TemporalRequestError, TemporalUnavailableError
from api.temporal_gateway import TemporalGateway
from devstack.isolated import free_port
from tests.fixtures.nats import NatsServer
from tests.unit.api_harness import USER_MESSAGE, Api, api_settings, running_api

RUN_BODY = {"assistant_id": "agent", "input": {"messages": [USER_MESSAGE]}}


async def test_temporal_down_is_503_with_retry_after_and_nothing_recorded(api: Api) -> None:
    thread_id = await api.new_thread()
    api.gateway.refuse = TemporalUnavailableError("Temporal is unreachable at x:1: down")

    response = await api.http.post(f"/threads/{thread_id}/runs", json=RUN_BODY)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {"detail": "Temporal is unreachable at x:1: down"}
    assert await api.records.list_runs(thread_id) == []


async def test_temporal_refusing_a_request_is_502_with_its_reason(api: Api) -> None:
    thread_id = await api.new_thread()
    api.gateway.refuse = TemporalRequestError("The thread refused the request: boom")

    response = await api.http.post(f"/threads/{thread_id}/runs", json=RUN_BODY)

    assert response.status_code == 502
    assert response.json() == {"detail": "The thread refused the request: boom"}


async def test_temporal_unreachable_is_a_quick_503_with_retry_after(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = api_settings(tmp_path, nats_server.url, temporal={"address": closed})
    async with running_api(
        tmp_path, nats_server.url, gateway=TemporalGateway(settings), temporal={"address": closed}
    ) as api:
        thread_id = await api.new_thread()
        started = time.monotonic()
        response = await api.http.post(f"/threads/{thread_id}/runs", json=RUN_BODY)
        elapsed = time.monotonic() - started
        runs = await api.records.list_runs(thread_id)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"].startswith(f"Temporal is unreachable at {closed}: ")
    # A bound, not an exact time: the gateway's connect timeout (3 s) and RPC deadline (5 s)
    # are what keep a client from hanging; a refused connection fails well inside them, and
    # the margin absorbs a slow CI machine.
    assert elapsed < 8.0
    assert runs == []
