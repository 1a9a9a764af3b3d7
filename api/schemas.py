"""Request bodies, as langgraph_sdk sends them.

Unknown fields are ignored (the SDK sends many Agent Server options this API has no use
for, such as webhook or durability), so an SDK upgrade does not turn into 422s.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.ids import RUN_ID_PATTERN, THREAD_ID_PATTERN, THREAD_ID_RULE

MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
CancelAction = Literal["interrupt", "rollback"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ThreadCreate(_Body):
    thread_id: str | None = Field(
        default=None, pattern=THREAD_ID_PATTERN, description=THREAD_ID_RULE
    )
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadSearch(_Body):
    metadata: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "created_at", "updated_at", "status"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"


class AssistantSearch(_Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class RunCreate(_Body):
    assistant_id: str
    input: dict[str, Any] | None = None
    stream_mode: str | list[str] | None = None
    multitask_strategy: MultitaskStrategy | None = None
    """Default enqueue, like the Agent Server."""
    stream_resumable: bool = False
    on_disconnect: Literal["cancel", "continue"] = "continue"
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None


class CancelBody(_Body):
    reason: str | None = None


class BulkCancel(_Body):
    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN)
    run_ids: list[Annotated[str, StringConstraints(pattern=RUN_ID_PATTERN)]] | None = None
    status: Literal["pending", "running", "all"] | None = None
