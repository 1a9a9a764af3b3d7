"""The OpenAPI schema's promises about failures, checked without a server (the live API is
held to the whole schema by tests/integration/test_schemathesis.py)."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from api.openapi import ErrorBody, ValidationErrorBody
from core.settings import load_settings
from tests.unit.api_harness import Api

PUBLIC = {("/ok", "get"), ("/healthz", "get")}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return create_app(load_settings()).openapi()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_error_is_documented_as_a_string_detail(schema: dict[str, Any]) -> None:
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            if int(code) < 400:
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            expected = "ValidationErrorBody" if code == "422" else "ErrorBody"
            assert ref == f"#/components/schemas/{expected}", (path, method, code)
    detail = schema["components"]["schemas"]["ErrorBody"]["properties"]["detail"]
    assert detail["type"] == "string"
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_every_operation_but_liveness_documents_401(schema: dict[str, Any]) -> None:
    missing = [
        (path, method)
        for path, method, operation in operations(schema)
        if (path, method) not in PUBLIC and "401" not in operation["responses"]
    ]

    assert missing == []


def test_operations_with_a_body_document_400_and_413(schema: dict[str, Any]) -> None:
    for path, method, operation in operations(schema):
        if "requestBody" in operation:
            assert {"400", "413"} <= set(operation["responses"]), (path, method)


def test_streams_are_documented_as_server_sent_events(schema: dict[str, Any]) -> None:
    for path in ("/threads/{thread_id}/runs/stream", "/threads/{thread_id}/runs/{run_id}/stream"):
        ok = next(iter(schema["paths"][path].values()))["responses"]["200"]
        assert list(ok["content"]) == ["text/event-stream"], path


def test_new_threads_and_runs_link_to_what_takes_their_ids(schema: dict[str, Any]) -> None:
    threads = schema["paths"]["/threads"]["post"]["responses"]["200"]["links"]
    runs = schema["paths"]["/threads/{thread_id}/runs"]["post"]["responses"]["200"]["links"]

    assert len(threads) == 7 and len(runs) == 5
    assert all(link["parameters"] == {"thread_id": "$response.body#/thread_id"} for link in
               threads.values())  # fmt: skip
    assert all(link["parameters"]["run_id"] == "$response.body#/run_id" for link in runs.values())


async def test_real_error_answers_fit_their_documented_models(api: Api) -> None:
    invalid = await api.http.post("/threads", json={"if_exists": "overwrite"})
    missing = await api.http.get("/threads/nope")

    assert invalid.status_code == 422 and missing.status_code == 404
    validation = ValidationErrorBody.model_validate(invalid.json())
    assert validation.errors[0].loc == ["body", "if_exists"]
    assert ErrorBody.model_validate(missing.json()).detail == "Thread nope not found"
