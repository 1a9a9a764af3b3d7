"""Starlette app for the scripted model: ``/v1/chat/completions`` plus inspection endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from devstack.scripted_model.directives import DirectiveError, ReplyPlan, plan_reply
from devstack.scripted_model.protocol import (
    SSE_DONE,
    ChatRequest,
    RequestError,
    chunk,
    completion,
    estimate_prompt_tokens,
    invalid_body_error,
    parse_chat_request,
    scripted_failure,
    sse,
    tool_call,
    usage,
    usage_chunk,
    validate_messages,
)
from devstack.scripted_model.request_log import LogEntry, RequestLog

logger = logging.getLogger(__name__)

Producer = Callable[[Send], Awaitable[None]]

_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
# Real OpenAI sends retry hints; a short one keeps openai-python's automatic retries of
# scripted 429/5xx failures fast instead of adding seconds of backoff to every test.
_FAILURE_HEADERS = {"retry-after-ms": "20"}


class _DisconnectAwareResponse(Response):
    """Runs a producer while watching ``receive`` for ``http.disconnect``.

    Starlette only watches for disconnects itself on ASGI spec < 2.4, and never for plain
    responses; doing it here makes detection independent of the server and immediate even
    while the producer sleeps between tokens (the disconnect benchmark depends on this).
    """

    def __init__(self, produce: Producer, on_disconnect: Callable[[], None]) -> None:
        super().__init__()
        self._produce = produce
        self._on_disconnect = on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def produce() -> None:
                await self._produce(send)
                group.cancel_scope.cancel()

            group.start_soon(produce)
            while (await receive())["type"] != "http.disconnect":
                pass
            # Record first, then cancel: `end` must be the moment the hang-up was noticed.
            self._on_disconnect()
            group.cancel_scope.cancel()


class StreamCut(Exception):
    """Aborts a response mid-body, so the client sees a broken stream."""


@dataclass(frozen=True)
class _Turn:
    """Everything needed to render one successful reply, streamed or not."""

    entry: LogEntry
    request: ChatRequest
    plan: ReplyPlan
    created: int
    cut_after: int | None = None

    @property
    def completion_id(self) -> str:
        return f"chatcmpl-scripted-{self.entry.seq}"

    def tool_calls(self, *, streamed: bool) -> list[dict[str, Any]]:
        # Ids derive from the process-wide request seq, so they never repeat within a process.
        return [
            tool_call(f"call_{self.entry.seq}_{i}", tool, i if streamed else None)
            for i, tool in enumerate(self.plan.tool_calls)
        ]

    def usage(self) -> dict[str, int]:
        if self.plan.kind == "tool_calls":
            generated = sum(1 + len(json.dumps(tool.args)) // 4 for tool in self.plan.tool_calls)
        else:
            generated = self.entry.tokens
        return usage(estimate_prompt_tokens(self.request.messages), generated)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.plan.kind == "tool_calls" else "stop"

    def sse_chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(chunk(self.completion_id, self.created, self.request.model, delta, finish))

    def completion(self, message: dict[str, Any]) -> dict[str, Any]:
        model, reason = self.request.model, self.finish_reason
        return completion(self.completion_id, self.created, model, message, reason, self.usage())

    def usage_sse(self) -> bytes:
        return sse(usage_chunk(self.completion_id, self.created, self.request.model, self.usage()))

    async def pace(self, index: int) -> None:
        """Sleep between tokens (never before the first) so streams look like a real model."""
        if index:
            await asyncio.sleep(self.plan.pace_s)


async def _send_body(send: Send, body: bytes, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def _stream_reply(turn: _Turn, send: Send) -> None:
    """Write the reply as OpenAI server-sent events."""
    completed = False
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        # Like OpenAI: content "" for text replies, null when the reply is tool calls.
        content = "" if turn.plan.kind == "text" else None
        await _send_body(send, turn.sse_chunk({"role": "assistant", "content": content}))
        for call in turn.tool_calls(streamed=True):
            await _send_body(send, turn.sse_chunk({"tool_calls": [call]}))
        for index, token in enumerate(turn.plan.tokens):
            if index == turn.plan.stall:
                await asyncio.Event().wait()  # a stalled upstream: open, silent, forever
            if index == turn.cut_after:
                turn.entry.finish(disconnected=False)  # the server broke it, not the client
                raise StreamCut(f"[cut_once={index}]: the stream breaks here, as a flaky one would")
            await turn.pace(index)
            await _send_body(send, turn.sse_chunk({"content": token}))
            turn.entry.record_token()
        await _send_body(send, turn.sse_chunk({}, turn.finish_reason))
        if turn.request.include_usage:
            await _send_body(send, turn.usage_sse())
        await _send_body(send, SSE_DONE)
        completed = True
    finally:
        # Runs on cancellation too (the disconnect watcher cancels us mid-sleep).
        turn.entry.finish(disconnected=not completed)
    await _send_body(send, b"", more=False)


async def _json_reply(turn: _Turn, send: Send) -> None:
    """Write the reply as one ``chat.completion``, after the same paced generation time."""
    completed = False
    try:
        for index in range(len(turn.plan.tokens)):
            await turn.pace(index)
            turn.entry.record_token()
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if turn.plan.kind == "tool_calls":
            message["tool_calls"] = turn.tool_calls(streamed=False)
        else:
            message["content"] = "".join(turn.plan.tokens)
        body = json.dumps(turn.completion(message)).encode()
        completed = True
    finally:
        turn.entry.finish(disconnected=not completed)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await _send_body(send, body, more=False)


class _ScriptedModel:
    """Endpoint handlers sharing one request log and the set of model names seen."""

    def __init__(self) -> None:
        self.log = RequestLog()
        self.models_seen: set[str] = {"scripted"}
        self.cut_already: set[str] = set()

    def _cut_after(self, plan: ReplyPlan, messages: Any) -> int | None:
        """[cut_once=K] breaks only the first request with this conversation, so a client's
        retry succeeds (used to test retried model attempts)."""
        if plan.cut_once is None:
            return None
        key = json.dumps(messages, sort_keys=True)
        if key in self.cut_already:
            return None
        self.cut_already.add(key)
        return plan.cut_once

    async def completions(self, request: Request) -> Response:
        entry = self.log.open()
        try:
            raw = await request.body()
        except ClientDisconnect:
            entry.finish(disconnected=True)
            return Response(status_code=400)
        chat, entry.messages = parse_chat_request(raw)
        try:
            if chat is None:
                raise invalid_body_error(entry.messages)
            entry.stream, entry.model = chat.stream, chat.model
            self.models_seen.add(chat.model)
            plan = _plan(chat)
            entry.tool_results = plan.tool_results
            if plan.fail_status is not None:
                raise scripted_failure(plan.fail_status)
        except RequestError as exc:
            return _error_response(entry, exc)
        entry.reply = plan.kind
        entry.tool_calls = [tool.name for tool in plan.tool_calls]
        cut_after = self._cut_after(plan, entry.messages)
        turn = _Turn(
            entry=entry, request=chat, plan=plan, created=int(entry.start), cut_after=cut_after
        )
        produce = _stream_reply if chat.stream else _json_reply
        logger.debug("request %d: %s reply, stream=%s", entry.seq, plan.kind, chat.stream)
        return _DisconnectAwareResponse(
            partial(produce, turn), partial(entry.finish, disconnected=True)
        )

    async def get_log(self, request: Request) -> Response:
        return JSONResponse(self.log.snapshot(request.query_params.get("contains")))

    async def clear_log(self, request: Request) -> Response:
        self.log.clear()
        return JSONResponse({"ok": True})

    async def models(self, request: Request) -> Response:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "scripted"}
            for name in sorted(self.models_seen)
        ]
        return JSONResponse({"object": "list", "data": data})

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True})


def _plan(chat: ChatRequest) -> ReplyPlan:
    """Validate the conversation and plan the reply; directive typos become 400s."""
    validate_messages(chat.messages)
    try:
        return plan_reply(chat.messages)
    except DirectiveError as exc:
        raise RequestError(f"Bad scripted-model directive: {exc}", param="messages") from exc


def _error_response(entry: LogEntry, error: RequestError) -> Response:
    entry.status, entry.reply = error.status, "error"
    entry.finish(disconnected=False)
    logger.info("request %d answered %d: %s", entry.seq, error.status, error.message)
    retryable = error.status == 429 or error.status >= 500
    headers = _FAILURE_HEADERS if retryable else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def create_app() -> Starlette:
    """Build a fresh app with its own empty request log (one per server/test fixture)."""
    model = _ScriptedModel()
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", model.completions, methods=["POST"]),
            Route("/_scripted/log", model.get_log, methods=["GET"]),
            Route("/_scripted/log", model.clear_log, methods=["DELETE"]),
            Route("/v1/models", model.models, methods=["GET"]),
            Route("/healthz", model.healthz, methods=["GET"]),
        ]
    )
    # Lets in-process fixtures read the log directly instead of over HTTP.
    app.state.request_log = model.log
    return app
