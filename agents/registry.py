"""The langgraph.json-style registry: assistant id -> "module:attribute" of an agent.

An agent is a LangGraph StateGraph plus the tools its nodes may call. Its nodes and routers
run inside the turn workflow, so they must be async and deterministic; model and tool calls
go through workflows.agent_calls, which turns each into its own activity.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Any

from langgraph.graph import StateGraph

from agents.toolkit import ChatTool
from core.contracts import TurnLimits


@dataclass(frozen=True)
class AgentDefinition:
    graph: StateGraph[Any, Any, Any, Any]
    """The uncompiled graph; each turn compiles its own copy inside the workflow."""
    tools: list[ChatTool] = field(default_factory=list)
    system_prompt: str = ""
    limits: TurnLimits = field(default_factory=TurnLimits)
    """This assistant's step budget, deadline and approval timeout (a run's config wins)."""


@functools.cache
def load_agent(ref: str) -> AgentDefinition:
    """Import "package.module:attribute"; a bare StateGraph is accepted as a tool-less agent."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ValueError(f"graph reference {ref!r} must look like 'package.module:attribute'")
    target = getattr(importlib.import_module(module_name), attr)
    if isinstance(target, StateGraph):
        return AgentDefinition(graph=target)
    if not isinstance(target, AgentDefinition):
        raise TypeError(f"{ref} is a {type(target).__name__}, not an AgentDefinition")
    return target


def all_tools(refs: list[str]) -> dict[str, ChatTool]:
    """Every tool of every registered agent, by name; the worker serves them all."""
    tools: dict[str, ChatTool] = {}
    for ref in refs:
        for tool in load_agent(ref).tools:
            existing = tools.setdefault(tool.name, tool)
            if existing is not tool:
                raise ValueError(f"two registered agents declare different tools named {tool.name}")
    return tools
