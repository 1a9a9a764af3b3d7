"""The useStream test page (tests/js/page) in Chromium, seen the way a user sees it: what it
shows, with waits on DOM conditions only, and every console error it logged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000
"""For any one DOM condition; the first Temporal turn of a session can take a few seconds."""

# The answer to the human message `prompt`: its word count and whether the page was still
# streaming, read in one go; null until the answer has a word (and, with `settled`, until the
# page has stopped streaming). An error the page did not show when the wait began ends it.
# (After a stop, the Agent Server's history head carries the cancelled task's error, and
# useStream shows it until the next run replaces the head: that one is not news.)
ANSWER_JS = """({prompt, settled, shownError}) => {
  const error = document.querySelector('[data-testid=error]').textContent;
  if (error && error !== shownError) return {error};
  const chat = document.querySelector('[data-testid=chat]');
  const messages = [...chat.querySelectorAll('[data-testid=message]')];
  const asked = messages.findIndex((m) => m.dataset.type === 'human' && m.textContent === prompt);
  const answer = asked < 0 ? undefined : messages[asked + 1];
  if (!answer || answer.dataset.type !== 'ai') return null;
  const words = answer.textContent.trim().split(/\\s+/).filter(Boolean).length;
  if (words === 0 || (settled && chat.dataset.loading !== 'false')) return null;
  return {words, loading: chat.dataset.loading};
}"""


def chat_url(origin: str, api_url: str, assistant_id: str, api_key: str | None) -> str:
    """The page with agent-chat-ui's query parameters."""
    query = {"apiUrl": api_url, "assistantId": assistant_id}
    if api_key:
        query["apiKey"] = api_key
    return f"{origin}/?{urlencode(query)}"


@dataclass
class UseStreamPage:
    page: Any
    console_errors: list[str] = field(default_factory=list)

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    async def _wait(self, arg: dict[str, Any], what: str) -> dict[str, Any]:
        shown_error = await self.page.get_by_test_id("error").text_content()
        try:
            handle = await self.page.wait_for_function(
                ANSWER_JS, arg={**arg, "shownError": shown_error}
            )
        except PlaywrightTimeout:
            raise AssertionError(
                f"{what}: not within {WAIT_MS} ms; console errors: {self.console_errors}"
            ) from None
        seen = dict(await handle.json_value())
        if "error" in seen:
            raise AssertionError(
                f"{what}: the page shows {seen['error']!r}; console errors: {self.console_errors}"
            )
        return seen

    @property
    def chat(self) -> Any:
        return self.page.get_by_test_id("chat")

    async def open(self, url: str) -> None:
        await self.page.goto(url)

    async def server_check(self) -> str:
        """What the page's GET /info (agent-chat-ui's connection check) concluded."""
        shown = self.page.get_by_test_id("server")
        await expect(shown).not_to_have_attribute("data-state", "checking")
        return str(await shown.get_attribute("data-state"))

    async def send(self, prompt: str) -> None:
        await expect(self.page.get_by_test_id("send")).to_be_enabled()
        await self.page.get_by_test_id("input").fill(prompt)
        await self.page.get_by_test_id("send").click()

    async def streaming_answer(self, prompt: str) -> dict[str, Any]:
        """{words, loading} of the answer to `prompt` as soon as it has a word."""
        arg = {"prompt": prompt, "settled": False}
        return await self._wait(arg, f"a first word answering {prompt!r}")

    async def answer_words(self, prompt: str) -> int:
        """The word count of the answer to `prompt` once the page has stopped streaming."""
        arg = {"prompt": prompt, "settled": True}
        return int((await self._wait(arg, f"the whole answer to {prompt!r}"))["words"])

    async def thread_id(self) -> str:
        shown = self.page.get_by_test_id("thread-id")
        await expect(shown).not_to_have_text("")
        return str(await shown.inner_text())

    def listed(self, thread_id: str) -> Any:
        """The thread's entry in the thread list (search by graph_id)."""
        return self.page.locator(f'[data-testid=thread-item][data-thread-id="{thread_id}"]')

    def assert_no_console_errors(self) -> None:
        cors = [e for e in self.console_errors if "CORS" in e or "Access-Control" in e]
        assert not cors, f"CORS errors in the browser: {cors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


@asynccontextmanager
async def chromium_usestream_page() -> AsyncIterator[UseStreamPage]:
    """A fresh browser with one page whose console errors are collected."""
    expect.set_options(timeout=WAIT_MS)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await (await browser.new_context()).new_page()
            page.set_default_timeout(WAIT_MS)
            opened = UseStreamPage(page)
            page.on("pageerror", lambda error: opened.console_errors.append(str(error)))
            page.on("console", opened._on_console)
            yield opened
        finally:
            await browser.close()
