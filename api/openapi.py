"""What the OpenAPI schema says about failures, so that it says what the API really answers.

Every failure is JSON with a string `detail` (api/http_errors.py); a 422 adds the list of
field errors. FastAPI's own default (a 422 whose `detail` is a list) is never what this API
sends, so each route declares its error statuses with `errors(...)`, which also replaces
that default. tests/integration/test_schemathesis.py holds the schema to this.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, as a sentence for people")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query, path or header, then the field")
    msg: str
    type: str


class ValidationErrorBody(ErrorBody):
    errors: list[FieldError] = Field(
        default_factory=list, description="Each invalid field (empty for semantic errors)"
    )


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}
_BEARER = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}

_DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read at all (not UTF-8, or JSON nested too deep)",
    401: "No credential, or an unknown one (api.api_keys or the authenticator)",
    404: "No such thread, run or assistant for this caller",
    409: "The request clashes with the current state (busy thread, ended run, taken id)",
    413: "The body or the run's input is over a configured limit (limits.*)",
    422: "Invalid request: a field, parameter or input message is not acceptable",
    502: "Temporal answered, but refused or failed the request",
    503: "Temporal is unreachable: the run's state is unknown; retry after a while",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` entries for these error statuses. A route that reads a body (413)
    can also fail to read it at all (400: FastAPI's answer to a body that is not UTF-8 or
    is nested too deep to parse)."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in (400, *codes) if 413 in codes else codes:
        entry: dict[str, Any] = {
            "model": ValidationErrorBody if code == 422 else ErrorBody,
            "description": _DESCRIPTIONS[code],
        }
        if code == 503:
            entry["headers"] = _RETRY_AFTER
        if code == 401:
            entry["headers"] = _BEARER
        documented[code] = entry
    return documented


def _event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "properties": {
            "event": {"const": name},
            "data": {"contentMediaType": "application/json", "contentSchema": data},
        }
    }


_END = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": ["success", "error", "timeout", "interrupted", "pending", "running"]},
        "outcome": {"type": ["string", "null"]},
        "stop": {"type": ["object", "null"]},
        "kept": {"type": ["array", "null"]},
        "undone": {"type": ["array", "null"]},
        "not_undone": {"type": ["array", "null"]},
        "error": {"type": ["string", "null"]},
    },
}
_METADATA = {
    "type": "object",
    "required": ["run_id", "attempt"],
    "properties": {"run_id": {"type": "string"}, "attempt": {"type": "integer"}},
}
_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
_EVENTS = [
    "metadata",
    "values",
    "updates",
    "messages",
    "messages/metadata",
    "messages/partial",
    "messages/complete",
    "events",
    "custom",
    "tasks",
    "checkpoints",
    "debug",
    "error",
    "end",
]
SSE_EVENT: dict[str, Any] = {
    "description": "One Server-Sent Event; `data` is JSON. Heartbeats are SSE comments.",
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"enum": _EVENTS},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "Resumable streams"},
    },
    "allOf": [
        {"if": {"properties": {"event": {"const": kind}}}, "then": _event(kind, data)}
        for kind, data in (("metadata", _METADATA), ("error", _ERROR), ("end", _END))
    ],
}


def event_stream(description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 that is a stream of Server-Sent Events (each described by SSE_EVENT); the
    last one is always `end`."""
    return {
        200: {"description": description, "content": {"text/event-stream": {"schema": SSE_EVENT}}}
    }


# Links: which operations take the ids a response gives, so clients (and schemathesis's
# stateful phase) can go from a new thread to its runs, and from a new run to its stop.
_THREAD = {"thread_id": "$response.body#/thread_id"}
_RUN = {**_THREAD, "run_id": "$response.body#/run_id"}
_LINKS: dict[tuple[str, str], tuple[dict[str, str], list[tuple[str, str]]]] = {
    ("/threads", "post"): (
        _THREAD,
        [
            ("/threads/{thread_id}", "get"),
            ("/threads/{thread_id}/state", "get"),
            ("/threads/{thread_id}/runs", "post"),
            ("/threads/{thread_id}/runs", "get"),
            ("/threads/{thread_id}/runs/stream", "post"),
            ("/threads/{thread_id}/runs/wait", "post"),
            ("/threads/{thread_id}", "delete"),
        ],
    ),
    ("/threads/{thread_id}/runs", "post"): (
        _RUN,
        [
            ("/threads/{thread_id}/runs/{run_id}", "get"),
            ("/threads/{thread_id}/runs/{run_id}/join", "get"),
            ("/threads/{thread_id}/runs/{run_id}/stream", "get"),
            ("/threads/{thread_id}/runs/{run_id}/cancel", "post"),
            ("/threads/{thread_id}/runs/{run_id}", "delete"),
        ],
    ),
}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the links to the 200 answers of the operations that create threads and runs."""
    paths = schema.get("paths", {})
    for (path, method), (parameters, targets) in _LINKS.items():
        response = paths[path][method]["responses"]["200"]
        response["links"] = {
            paths[to][how]["operationId"]: {
                "operationId": paths[to][how]["operationId"],
                "parameters": parameters,
            }
            for to, how in targets
        }
    return schema


def install_links(app: FastAPI) -> None:
    """FastAPI builds the schema once, on first use; the links are added to that one."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
