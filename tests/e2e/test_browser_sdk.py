"""useStream from @langchain/langgraph-sdk/react in a real browser, as agent-chat-ui uses it.

The page (tests/js/page, bundled with esbuild) is served from another origin than the API, so
every call is a real cross-origin request; one test routes it through a pass-through proxy
that forwards JSON bodies as text/plain, as agent-chat-ui's Next.js proxy does. Chromium is
Debian's, driven by Playwright; no browser is downloaded. Every test ends by failing on any
console error, CORS errors first.

Runs against chatstop by default, against LangGraph's Agent Server with
`--against-agent-server` (see conftest_js.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from devstack.asgi import serve_app
from tests.e2e.conftest_js import LiveApi
from tests.e2e.js_support import JS_DIR, ended_model_call, run_node
from tests.e2e.page_server import FORWARDED_CONTENT_TYPE, ProxyLog, page_app, passthrough_app
from tests.e2e.usestream_page import CHROMIUM, UseStreamPage, chat_url, chromium_usestream_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.agent_protocol,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get)"),
]


@pytest.fixture(scope="session")
async def page_build(node: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page")
    built = await run_node(node, JS_DIR / "page" / "build.mjs", str(out), env={})
    assert built.returncode == 0, built.stderr
    return out


@pytest.fixture(scope="session")
async def page_origin(page_build: Path) -> AsyncIterator[str]:
    """The page alone, on a port of its own: a different origin from the API's."""
    served = await serve_app(page_app(page_build), lifespan="off", name="page")
    yield served.url
    await served.stop()


@pytest.fixture
async def proxy(page_build: Path, live_api: LiveApi) -> AsyncIterator[tuple[str, ProxyLog]]:
    """The page and an agent-chat-ui style pass-through to the API, on one origin."""
    log = ProxyLog()
    served = await serve_app(passthrough_app(page_build, live_api.api_url, log), name="proxy")
    yield served.url, log
    await served.stop()


@pytest.fixture
async def ui() -> AsyncIterator[UseStreamPage]:
    async with chromium_usestream_page() as opened:
        yield opened


def direct_url(origin: str, api: LiveApi) -> str:
    return chat_url(origin, api.api_url, api.assistant_id, api.api_key)


async def test_tokens_stream_cross_origin_and_a_reload_brings_the_thread_back(
    page_origin: str, live_api: LiveApi, ui: UseStreamPage, marker: str
) -> None:
    prompt = f"[tokens=40][pace=40] hello {marker}"
    await ui.open(direct_url(page_origin, live_api))
    await ui.send(prompt)

    streaming = await ui.streaming_answer(prompt)
    assert streaming["loading"] == "true" and streaming["words"] < 40, streaming
    assert await ui.answer_words(prompt) == 40
    thread_id = await ui.thread_id()
    assert f"threadId={thread_id}" in ui.page.url
    searched = "the thread list (threads.search by graph_id) shows the thread"
    await expect(ui.listed(thread_id), searched).to_have_count(1)

    await ui.page.reload()
    await expect(ui.page.get_by_test_id("thread-id")).to_have_text(thread_id)
    assert await ui.answer_words(prompt) == 40  # from POST /threads/{id}/history
    await expect(ui.page.get_by_test_id("message")).to_have_count(2)
    await expect(ui.listed(thread_id), searched).to_have_count(1)
    assert await ui.server_check() == "ok"  # GET /info, agent-chat-ui's connection check
    ui.assert_no_console_errors()


async def test_stop_cancels_the_run_on_the_server_and_the_thread_goes_on(
    page_origin: str, live_api: LiveApi, ui: UseStreamPage, scripted_model: Any, marker: str
) -> None:
    prompt = f"[tokens=400][pace=20] stop {marker}"
    await ui.open(direct_url(page_origin, live_api))
    await ui.send(prompt)
    await ui.streaming_answer(prompt)
    run_id = await ui.chat.get_attribute("data-run-id")
    assert run_id, "no run id: is Content-Location exposed to the page's origin?"

    await ui.page.get_by_test_id("stop").click()
    stopped = "client.runs.cancel(thread, run, wait=true, 'interrupt') answered"
    await expect(ui.chat, stopped).to_have_attribute("data-stop", "stopped")
    ended = "the server ends the SSE stream of the cancelled run"
    await expect(ui.chat, ended).to_have_attribute("data-loading", "false")
    refetched = "useStream refetched POST /threads/{id}/history after the stream ended"
    await expect(ui.chat, refetched).to_have_attribute("data-finished", "1")
    thread_id = await ui.thread_id()
    headers = {"x-api-key": live_api.api_key} if live_api.api_key else {}
    async with httpx.AsyncClient(base_url=live_api.api_url, headers=headers) as http:
        run = (await http.get(f"/threads/{thread_id}/runs/{run_id}")).json()
    assert run["status"] == "interrupted"
    call = await ended_model_call(scripted_model, f"stop {marker}")
    assert call["disconnected"] is True and call["tokens"] < 400

    # The next submit sends the history head's checkpoint along, as useStream always does.
    again = f"[tokens=5] again {marker}"
    await ui.send(again)
    assert await ui.answer_words(again) == 5
    ui.assert_no_console_errors()


async def test_a_reload_mid_answer_rejoins_the_run_from_its_first_event(
    page_origin: str, live_api: LiveApi, ui: UseStreamPage, scripted_model: Any, marker: str
) -> None:
    prompt = f"[tokens=150][pace=30] rejoin {marker}"
    await ui.open(direct_url(page_origin, live_api))
    await ui.send(prompt)
    await ui.streaming_answer(prompt)

    def joins(request: Any) -> bool:
        return request.method == "GET" and request.url.split("?")[0].endswith("/stream")

    async with ui.page.expect_request(joins) as joined:
        await ui.page.reload()
    headers = await (await joined.value).all_headers()
    assert headers.get("last-event-id") == "-1"
    assert await ui.answer_words(prompt) == 150
    assert len(scripted_model.request_log.snapshot(contains=prompt)) == 1, "the run ran twice"
    ui.assert_no_console_errors()


async def test_a_passthrough_proxy_sending_json_as_text_plain_works(
    proxy: tuple[str, ProxyLog], live_api: LiveApi, ui: UseStreamPage, marker: str
) -> None:
    origin, log = proxy
    prompt = f"[tokens=20][pace=10] proxied {marker}"
    await ui.open(chat_url(origin, f"{origin}/api", live_api.assistant_id, live_api.api_key))
    await ui.send(prompt)
    assert await ui.answer_words(prompt) == 20
    thread_id = await ui.thread_id()
    await expect(ui.listed(thread_id)).to_have_count(1)

    posts = [r for r in log.requests if r.method == "POST"]
    assert {r.content_type for r in posts} == {FORWARDED_CONTENT_TYPE}
    refused = [(r.path, r.status) for r in posts if r.status >= 300]
    assert refused == [], f"text/plain bodies refused: {refused}"
    assert f"/threads/{thread_id}/runs/stream" in {r.path for r in posts}
    ui.assert_no_console_errors()
