"""How failures reach HTTP clients: always a JSON `detail`, never a traceback.

Domain errors from the services map to one status each; request validation becomes a 422
whose detail is a readable sentence (langgraph_sdk shows `detail` as the error message); and
anything unexpected is logged here and answered with a 500 that names the request.
"""

from __future__ import annotations

import logging
from collections import deque

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.service import RPCError

from api.errors import (
    ApiError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    TemporalRequestError,
    TemporalUnavailableError,
)
from core.settings import LimitSettings

logger = logging.getLogger(__name__)

_STATUS: dict[type[ApiError], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidInputError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    PayloadTooLargeError: status.HTTP_413_CONTENT_TOO_LARGE,
    TemporalUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
    TemporalRequestError: status.HTTP_502_BAD_GATEWAY,
}
RETRY_AFTER_SECONDS = 5


def status_for(exc: ApiError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return status.HTTP_500_INTERNAL_SERVER_ERROR


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    code = status_for(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if code == 503 else None
    return JSONResponse({"detail": exc.detail}, status_code=code, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    detail = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in errors
    )
    # Not the offending `input` back: it can be the whole body, or hold what JSON cannot
    # carry (NaN), which would turn a 422 into a 500.
    brief = [
        {"loc": jsonable_encoder(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
        for e in errors
    ]
    return JSONResponse(
        {"detail": f"Invalid request: {detail}", "errors": brief},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _rpc_error(request: Request, exc: Exception) -> JSONResponse:
    """A Temporal RPC failure that no service translated: still a gateway problem."""
    logger.warning("Temporal error on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": f"Temporal error: {exc}"}, status_code=status.HTTP_502_BAD_GATEWAY
    )


class BodyLimitMiddleware:
    """413 for a request body over limits.max_body_bytes, before anything parses it: by its
    Content-Length when it has one (the server holds the body to it), else by reading the
    body first, up to the limit. Refusing while the app reads cannot work: FastAPI turns
    any error raised as it reads a body into a 400."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit():
            if int(length) > self.max_bytes:
                await self._refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        received, too_large = await self._read(receive)
        if too_large:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(received, receive), send)

    async def _read(self, receive: Receive) -> tuple[list[Message], bool]:
        """The body's messages, and whether they went over the limit."""
        received: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":  # the client went away
                return received, False
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                return received, True
            if not message.get("more_body", False):
                return received, False

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"Request body over {self.max_bytes} bytes (limits.max_body_bytes)"
        response = JSONResponse({"detail": detail}, status_code=413)
        await response(scope, receive, send)


def _replay(received: list[Message], receive: Receive) -> Receive:
    """The body as it was read, then the live channel (a disconnect, for a stream)."""
    pending = deque(received)

    async def replayed() -> Message:
        return pending.popleft() if pending else await receive()

    return replayed


class UnexpectedErrorMiddleware:
    """Last resort: log the traceback, answer JSON (if the response has not started)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                return  # mid-stream: all that can be done is to end the response
            detail = f"Internal error ({type(exc).__name__}); the server log has the details"
            response = JSONResponse({"detail": detail}, status_code=500)
            await response(scope, receive, send)


def install_error_handling(app: FastAPI, limits: LimitSettings) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RPCError, _rpc_error)
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes)
    app.add_middleware(UnexpectedErrorMiddleware)
