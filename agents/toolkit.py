"""Declaring tools that chatstop runs as their own heartbeating Temporal activities.

A tool is a plain function (sync or async) whose last parameter is a ToolContext. Its other
parameters become the JSON schema the model sees. A side-effecting tool names its
compensator, declared beside it; a rollback calls it with the same arguments and the same
idempotency key, so undoing something that never happened is harmless.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model


class ToolStopped(Exception):
    """Raised inside a tool by ToolContext.sleep / check once the turn was stopped."""


@dataclass
class ToolContext:
    """What a running tool may use: progress reports, cooperative stop, its idempotency key."""

    idempotency_key: str
    data_dir: Path
    report: Callable[[str], None] = lambda message: None
    output: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def progress(self, message: str) -> None:
        """Record partial output; it streams to the client and is kept if the tool is stopped."""
        self.output.append(message)
        self.report(message)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        self._stop.set()

    def check(self) -> None:
        if self._stop.is_set():
            raise ToolStopped()

    def sleep(self, seconds: float) -> None:
        """Sleep in a sync tool, waking at once when the turn is stopped."""
        if self._stop.wait(seconds):
            raise ToolStopped()


ToolFunction = Callable[..., Any]


@dataclass(frozen=True)
class ChatTool:
    name: str
    description: str
    func: ToolFunction
    args_model: type[BaseModel]
    compensator: ToolFunction | None = None
    needs_approval: bool = False
    """Pause the turn for a person's decision before each call (approve, edit, reject)."""
    irreversible: bool = False
    """Its effect cannot be undone: a rollback after it ran says so, by name."""

    def openai_schema(self) -> dict[str, Any]:
        """The tool as the model sees it. Shared between turns, so never modify it."""
        return _openai_schema(self.name, self.description, self.args_model)

    def validate_args(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.args_model.model_validate(args).model_dump()


@functools.cache
def _openai_schema(name: str, description: str, args_model: type[BaseModel]) -> dict[str, Any]:
    # Once per tool: every turn lists its agent's tools, and pydantic builds a JSON schema
    # generator each time (measured: a tenth of the worker's CPU for short turns).
    schema = args_model.model_json_schema()
    schema.pop("title", None)
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": schema},
    }


def _args_model(func: ToolFunction) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.annotation in (ToolContext, "ToolContext") or param.name == "ctx":
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (param.annotation, default)
    config = ConfigDict(extra="forbid")
    return create_model(f"{func.__name__}_args", __config__=config, **fields)


def chat_tool(
    func: ToolFunction | None = None,
    *,
    compensate: ToolFunction | None = None,
    needs_approval: bool = False,
    irreversible: bool = False,
) -> Any:
    """Decorator: `@chat_tool`, `@chat_tool(compensate=undo_fn)`,
    `@chat_tool(needs_approval=True, irreversible=True)`."""

    def wrap(f: ToolFunction) -> ChatTool:
        return ChatTool(
            name=f.__name__,
            description=inspect.cleandoc(f.__doc__ or f.__name__),
            func=f,
            args_model=_args_model(f),
            compensator=compensate,
            needs_approval=needs_approval,
            irreversible=irreversible,
        )

    return wrap(func) if func is not None else wrap
