"""What a browser needs from the API at the HTTP level, asserted header by header: CORS for a
page on another origin, and JSON bodies labelled text/plain (agent-chat-ui's Next.js
pass-through forwards them so). test_browser_sdk.py shows the same through a real browser;
these name the exact header or status that is missing.

Runs against chatstop by default, against LangGraph's Agent Server with
`--against-agent-server` (see conftest_js.py).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest_js import LiveApi

pytestmark = [pytest.mark.e2e, pytest.mark.agent_protocol]

PAGE_ORIGIN = "http://127.0.0.1:3000"  # agent-chat-ui's dev server
# What useStream sends beyond the CORS-safelisted headers: a JSON content type, the API key,
# and Last-Event-ID when it rejoins a run.
SDK_HEADERS = ("content-type", "x-api-key", "last-event-id")
TEXT_PLAIN = "text/plain;charset=UTF-8"  # what fetch() sets for a string body


@pytest.fixture
async def http(live_api: LiveApi) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"x-api-key": live_api.api_key} if live_api.api_key else {}
    async with httpx.AsyncClient(base_url=live_api.api_url, headers=headers, timeout=30) as client:
        yield client


def listed(header: str | None) -> set[str]:
    return {item.strip().lower() for item in (header or "").split(",") if item.strip()}


async def test_cors_preflight_allows_another_origin_and_the_sdk_headers(
    http: httpx.AsyncClient,
) -> None:
    preflight = await http.options(
        f"/threads/{uuid.uuid4()}/runs/stream",
        headers={
            "origin": PAGE_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": ",".join(SDK_HEADERS),
        },
    )
    assert preflight.status_code in (200, 204), preflight.text
    assert preflight.headers.get("access-control-allow-origin") in ("*", PAGE_ORIGIN)
    methods = listed(preflight.headers.get("access-control-allow-methods"))
    assert {"get", "post", "delete"} <= methods or "*" in methods, methods
    allowed = listed(preflight.headers.get("access-control-allow-headers"))
    assert set(SDK_HEADERS) <= allowed or "*" in allowed, allowed


async def test_cross_origin_run_stream_exposes_content_location(
    http: httpx.AsyncClient, live_api: LiveApi, marker: str
) -> None:
    cross_origin = {"origin": PAGE_ORIGIN}
    created = await http.post("/threads", json={}, headers=cross_origin)
    assert created.headers.get("access-control-allow-origin") in ("*", PAGE_ORIGIN)
    thread_id = created.json()["thread_id"]
    body = {
        "assistant_id": live_api.assistant_id,
        "input": {"messages": [{"type": "human", "content": f"[tokens=1] {marker}"}]},
    }
    async with http.stream(
        "POST", f"/threads/{thread_id}/runs/stream", json=body, headers=cross_origin
    ) as stream:
        await stream.aread()
    assert stream.headers.get("access-control-allow-origin") in ("*", PAGE_ORIGIN)
    # useStream reads the run id from Content-Location; a browser shows it only if exposed.
    assert "content-location" in listed(stream.headers.get("access-control-expose-headers"))
    location = stream.headers.get("content-location", "")
    assert re.fullmatch(rf"/threads/{thread_id}/runs/[0-9a-f-]+", location), location


async def test_json_bodies_labelled_text_plain_are_accepted(
    http: httpx.AsyncClient, live_api: LiveApi, marker: str
) -> None:
    async def post_as_text(path: str, body: dict[str, Any]) -> httpx.Response:
        answer = await http.post(
            path, content=json.dumps(body), headers={"content-type": TEXT_PLAIN}
        )
        assert answer.status_code == 200, f"POST {path} as text/plain: {answer.text}"
        return answer

    created = (await post_as_text("/threads", {"metadata": {"marker": marker}})).json()
    assert created["metadata"] == {"marker": marker}
    found = await post_as_text("/threads/search", {"metadata": {"marker": marker}})
    assert [t["thread_id"] for t in found.json()] == [created["thread_id"]]
    run = {
        "assistant_id": live_api.assistant_id,
        "input": {"messages": [{"type": "human", "content": f"[tokens=2] {marker}"}]},
    }
    waited = await post_as_text(f"/threads/{created['thread_id']}/runs/wait", run)
    assert [m["type"] for m in waited.json()["messages"]] == ["human", "ai"]
