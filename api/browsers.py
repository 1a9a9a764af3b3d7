"""What browser clients need to reach the API: CORS, and JSON whatever its content type.

Chat UIs (agent-chat-ui, anything on `useStream`) run on another origin and call the API
from the browser, so every answer carries CORS headers and preflights succeed; like the
Agent Server, the run's location (`Content-Location`) is exposed, because `useStream` reads
the run id from it. agent-chat-ui's Next.js pass-through proxy forwards bodies as
`text/plain`: the API reads any body as JSON, as the Agent Server does.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from core.settings import Settings

EXPOSED_HEADERS = ["content-location", "location", "x-pagination-total", "x-pagination-next"]
_JSON = b"application/json"


class JsonWhateverTheContentType:
    """A body labelled text/plain (or not labelled) is read as JSON: the label is the
    proxy's, not the client's. Multipart and form bodies are left alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH"):
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
            current = dict(scope.get("headers", [])).get(b"content-type", b"")
            if not current or current.startswith(b"text/plain"):
                scope = {**scope, "headers": [*headers, (b"content-type", _JSON)]}
        await self.app(scope, receive, send)


def cors_origins(settings: Settings) -> list[str]:
    """Configured origins; none configured: any origin in development, none in production."""
    if settings.api.cors_origins is not None:
        return list(settings.api.cors_origins)
    return ["*"] if settings.api.environment == "development" else []


def install_browser_support(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(JsonWhateverTheContentType)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=cors_origins(settings),
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=EXPOSED_HEADERS,
        allow_private_network=True,
        max_age=600,
    )
