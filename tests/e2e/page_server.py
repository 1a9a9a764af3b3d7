"""Serves the bundled useStream page (tests/js/page) on its own origin, and optionally a
pass-through proxy to the API like agent-chat-ui's.

agent-chat-ui in production routes the browser through its Next.js app
(`langgraph-nextjs-api-passthrough` 0.1.4): the page calls `<its origin>/api/...`, and the
route handler re-sends the request to the API with `fetch(url, {body: await req.text()})`.
Only `x-*` and `authorization` headers are copied, so the JSON body goes out as a string and
fetch labels it `text/plain;charset=UTF-8`. `passthrough_app` does the same, streams the
answer back, and records what it forwarded so a test can show the API saw text/plain.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

FORWARDED_CONTENT_TYPE = "text/plain;charset=UTF-8"
"""What fetch() sets for a string body, which is all the Next.js pass-through sends."""

CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "access-control-allow-headers": "*",
    "access-control-expose-headers": "content-location",
}
# Hop-by-hop, or describing the upstream encoding rather than the bytes we pass on.
_DROPPED_RESPONSE_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Forwarded:
    method: str
    path: str
    content_type: str | None
    status: int


@dataclass
class ProxyLog:
    requests: list[Forwarded] = field(default_factory=list)


def _page_routes(build_dir: Path) -> list[Route]:
    async def index(request: Request) -> Response:
        return FileResponse(build_dir / "index.html")

    async def bundle(request: Request) -> Response:
        return FileResponse(build_dir / "bundle.js", media_type="text/javascript")

    return [Route("/", index), Route("/bundle.js", bundle)]


def page_app(build_dir: Path) -> Starlette:
    """Only the page: the browser talks to the API cross-origin."""
    return Starlette(routes=_page_routes(build_dir))


def passthrough_app(build_dir: Path, api_url: str, log: ProxyLog) -> Starlette:
    """The page plus `/api/{path}` forwarded to `api_url` as the Next.js pass-through does."""
    upstream = httpx.AsyncClient(base_url=api_url, timeout=httpx.Timeout(10, read=None))

    async def forward(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS_HEADERS)
        headers = {
            k: v for k, v in request.headers.items() if k.startswith("x-") or k == "authorization"
        }
        body: str | None = None
        if request.method in ("POST", "PUT", "PATCH"):
            body = (await request.body()).decode()
            headers["content-type"] = FORWARDED_CONTENT_TYPE
        upstream_request = upstream.build_request(
            request.method,
            "/" + request.path_params["path"],
            params=request.url.query,
            headers=headers,
            content=body,
        )
        answer = await upstream.send(upstream_request, stream=True)
        log.requests.append(
            Forwarded(
                request.method,
                upstream_request.url.path,
                upstream_request.headers.get("content-type"),
                answer.status_code,
            )
        )
        passed = {
            k: v for k, v in answer.headers.items() if k.lower() not in _DROPPED_RESPONSE_HEADERS
        }
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers=passed | CORS_HEADERS,
            background=BackgroundTask(answer.aclose),
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with upstream:
            yield

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[*_page_routes(build_dir), Route("/api/{path:path}", forward, methods=methods)],
        lifespan=lifespan,
    )
