"""The JSON shapes the API answers with, as OpenAPI documents them.

The routes build their answers as plain dicts (api/views.py); these models only describe
them (`responses={200: {"model": ...}}`), so documenting costs no validation per response.
They are held true by tests/integration/test_schemathesis.py, which checks every answer of
the live API against them. Extra keys are allowed, as the Agent Server protocol grows.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatusName = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
ThreadStatusName = Literal["idle", "busy", "interrupted", "error"]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class Messages(_Shape):
    messages: list[dict[str, Any]] = Field(description="LangChain messages, serialized")


class Thread(_Shape):
    thread_id: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    status: ThreadStatusName
    values: Messages
    config: dict[str, Any]
    interrupts: dict[str, Any]


class Checkpoint(_Shape):
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None


class ThreadState(_Shape):
    values: Messages
    next: list[str]
    tasks: list[Any]
    checkpoint: Checkpoint
    metadata: dict[str, Any]
    created_at: str | None
    parent_checkpoint: Checkpoint | None
    interrupts: list[Any]


class Run(_Shape):
    run_id: str
    thread_id: str
    assistant_id: str
    created_at: str
    updated_at: str
    status: RunStatusName
    metadata: dict[str, Any]
    kwargs: dict[str, Any] = Field(description="The request: input, stream_mode, config, ...")
    multitask_strategy: str
    cancel_reason: str | None
    outcome: dict[str, Any] | None = Field(
        description="How the run ended: outcome, stop (action, actor, reason), kept, undone, "
        "not_undone, error; null while it runs"
    )


class RunError(BaseModel):
    error: str
    message: str


class RunValues(_Shape):
    """The thread's values once the run ended; `__error__` instead if it failed."""

    messages: list[dict[str, Any]] | None = None
    error: RunError | None = Field(default=None, alias="__error__")


class Cancelled(_Shape):
    cancelled: list[str] = Field(description="The ids of the runs this request stopped")


class Assistant(_Shape):
    assistant_id: str
    graph_id: str
    name: str
    description: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    created_at: str
    updated_at: str


class Health(BaseModel):
    ok: bool


class PageConfig(_Shape):
    temporal_ui: str
    namespace: str
    assistant_id: str | None


def success(model: Any, description: str = "OK") -> dict[int | str, dict[str, Any]]:
    """The 200 entry for `responses`: a model, or a type such as `list[Run]`."""
    return {200: {"model": model, "description": description}}
