"""The chat page in a real browser: Stop ends a streaming answer, and the thread carries on.

Drives Debian's Chromium through Playwright against a running stack (the `stack` fixture:
API + worker + Temporal + scripted model). Nothing is downloaded: no Playwright browser.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = REPO_ROOT / ".data" / "screenshots" / "chat_stop.png"
LONG_ANSWER_TOKENS = 400
SHORT_ANSWER_TOKENS = 5
STOP_DEADLINE_MS = 15_000
"""From the click to the bubble saying stopped; a real stop takes well under a second."""

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
    ),
]
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="needs the playwright package: pip install playwright"
)
expect = playwright_api.expect


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    # A turn is a Temporal workflow: the first one after start-up can take a few seconds.
    expect.set_options(timeout=20_000)
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 1100, "height": 800})
            yield await context.new_page()
        finally:
            await browser.close()


def last_user_text(entry: dict[str, Any]) -> str:
    users = [m for m in entry.get("messages") or [] if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, list):  # OpenAI content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


async def model_request(log_url: str, needle: str, within: float = 10.0) -> dict[str, Any]:
    """The scripted model's log entry of the request whose last user message has ``needle``,
    once it has ended: the model notices the hang-up a moment after the worker closes it."""
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            entries = (await http.get(log_url)).json()
            found = [e for e in entries if needle in last_user_text(e)]
            if found and found[-1].get("end") is not None:
                return dict(found[-1])
            assert asyncio.get_running_loop().time() < deadline, f"no ended request {needle!r}"
            await asyncio.sleep(0.1)  # polling interval, not a wait for something to happen


async def send(page: Any, text: str) -> Any:
    """Type and send a message; return the locator of the turn it starts."""
    await expect(page.get_by_test_id("send")).to_be_enabled()
    await page.get_by_test_id("input").fill(text)
    await page.get_by_test_id("send").click()
    return page.get_by_test_id("turn").filter(has_text=text)


async def answer_words(turn: Any) -> list[str]:
    text = await turn.get_by_test_id("assistant-msg").get_by_test_id("assistant-text").inner_text()
    return str(text).split()


async def test_stop_keeps_the_partial_answer_and_the_next_message_completes(
    stack: Any, page: Any
) -> None:
    marker = uuid.uuid4().hex[:10]
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    await page.goto(f"{stack.api_url}/")
    await expect(page.get_by_test_id("thread-id")).to_contain_text("thread ")
    try:
        first = await send(page, f"[tokens={LONG_ANSWER_TOKENS}][pace=20] hello {marker}")
        answer = first.get_by_test_id("assistant-msg")
        await expect(answer.get_by_test_id("assistant-text")).to_have_text(re.compile(r"\S"))
        await expect(first.get_by_test_id("run-link").locator("a")).to_have_attribute(
            "href", re.compile(r"/workflows/turn%3A")
        )
        await page.get_by_test_id("stop").click()
        await expect(answer).to_have_attribute("data-status", "stopped", timeout=STOP_DEADLINE_MS)

        shown = await answer_words(first)
        request = await model_request(stack.model_log_url, f"hello {marker}")
        assert request["disconnected"] is True, "Stop must hang up on the model"
        assert 0 < len(shown) <= request["tokens"] < LONG_ANSWER_TOKENS

        second = await send(page, f"[tokens={SHORT_ANSWER_TOKENS}] again {marker}")
        reply = second.get_by_test_id("assistant-msg")
        await expect(reply).to_have_attribute("data-status", "done")
        assert len(await answer_words(second)) == SHORT_ANSWER_TOKENS
        await expect(answer).to_have_attribute("data-status", "stopped")
        assert await answer_words(first) == shown, "the stopped answer must stay as it was"
        assert page_errors == []
    finally:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)


async def test_with_keys_the_page_asks_for_one_once_and_then_works(stack: Any, page: Any) -> None:
    from tests.stack import another_api

    key = f"page-key-{uuid.uuid4().hex}"
    marker = uuid.uuid4().hex[:10]
    async with another_api(stack, api={"api_keys": {key: "page-user"}}) as url:
        await page.goto(f"{url}/")
        dialog = page.get_by_test_id("key-dialog")
        await expect(dialog).to_be_visible()
        await page.get_by_test_id("key-input").fill("wrong-key")
        await page.get_by_test_id("key-submit").click()
        await expect(dialog).to_be_visible()  # refused: asked again
        await page.get_by_test_id("key-input").fill(key)
        await page.get_by_test_id("key-submit").click()
        await expect(dialog).to_be_hidden()
        await expect(page.get_by_test_id("thread-id")).to_contain_text("thread ")
        turn = await send(page, f"[tokens={SHORT_ANSWER_TOKENS}] keyed {marker}")
        reply = turn.get_by_test_id("assistant-msg")
        await expect(reply).to_have_attribute("data-status", "done")

        await page.reload()  # the key is kept: no second question, the thread comes back
        await expect(page.get_by_test_id("turn").filter(has_text=marker)).to_be_visible()
        await expect(dialog).to_be_hidden()
