"""Agents used only by tests: the ReAct graph with tools whose compensators are observable."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import interrupt

from agents.react import build_react_graph
from agents.registry import AgentDefinition
from agents.toolkit import ToolContext, chat_tool

UNDO_LOG = "undo-log.txt"


def _log(ctx: ToolContext, line: str) -> None:
    with Path(ctx.data_dir, UNDO_LOG).open("a") as f:
        f.write(line + "\n")


def undo_step(label: str, ctx: ToolContext) -> str:
    _log(ctx, f"undo {label}")
    return f"undid {label}"


@chat_tool(compensate=undo_step)
def record_step(label: str, ctx: ToolContext) -> str:
    """Record a step (a side effect whose undo is logged)."""
    _log(ctx, f"do {label}")
    return f"did {label}"


def slow_undo(label: str, ctx: ToolContext) -> str:
    time.sleep(1.5)  # long enough for a second stop to arrive while it runs
    _log(ctx, f"undo {label}")
    return f"slowly undid {label}"


@chat_tool(compensate=slow_undo)
def record_slow_undo(label: str, ctx: ToolContext) -> str:
    """A side effect whose compensation takes a while."""
    _log(ctx, f"do {label}")
    return f"did {label}"


def broken_undo(label: str, ctx: ToolContext) -> str:
    raise RuntimeError(f"the undo service refused {label}")


@chat_tool(compensate=broken_undo)
def record_unrecoverable(label: str, ctx: ToolContext) -> str:
    """A side effect that cannot be undone."""
    _log(ctx, f"do {label}")
    return f"did {label}"


def undo_wait(label: str, seconds: float, ctx: ToolContext) -> str:
    return undo_step(label, ctx)


@chat_tool(compensate=undo_wait)
def record_then_wait(label: str, seconds: float, ctx: ToolContext) -> str:
    """A side effect, then a long wait: a worker can die after the effect, mid-call."""
    _log(ctx, f"do {label}")
    ctx.sleep(seconds)
    return f"did {label}"


RELEASE_STUBBORN = threading.Event()
"""Set by a test when it is done, so stubborn tools do not hold threads past the test."""


@chat_tool
def stubborn(seconds: float, ctx: ToolContext) -> str:
    """A sync tool that ignores Stop (it never looks at its context): it holds its thread."""
    RELEASE_STUBBORN.wait(seconds)
    return "finally done"


@chat_tool
def wait_a_while(seconds: float, ctx: ToolContext) -> str:
    """A read-only slow tool."""
    ctx.sleep(seconds)
    return "waited"


def undo_lines(data_dir: Path) -> list[str]:
    path = data_dir / UNDO_LOG
    return path.read_text().splitlines() if path.exists() else []


undo_agent = AgentDefinition(
    graph=build_react_graph(),
    tools=[
        record_step,
        record_slow_undo,
        record_unrecoverable,
        record_then_wait,
        stubborn,
        wait_a_while,
    ],
)


async def _never_ends(state: MessagesState) -> dict[str, Any]:
    """A node that can never make progress (as a wedged workflow task cannot)."""
    await asyncio.Event().wait()
    return {}


def _hanging_graph() -> StateGraph[Any, Any, Any, Any]:
    builder = StateGraph(MessagesState)
    builder.add_node("stuck", _never_ends)
    builder.add_edge(START, "stuck")
    return builder


hanging_agent = AgentDefinition(graph=_hanging_graph())


async def _ask(state: MessagesState) -> dict[str, Any]:
    """A node that asks the person a question with LangGraph's own interrupt()."""
    answer = interrupt({"question": "Which colour?"})
    return {"messages": [AIMessage(content=f"you chose {answer}", id="ask-answer")]}


def _asking_graph() -> StateGraph[Any, Any, Any, Any]:
    builder = StateGraph(MessagesState)
    builder.add_node("ask", _ask)
    builder.add_edge(START, "ask")
    return builder


asking_agent = AgentDefinition(graph=_asking_graph())
