"""What governs one turn: the agent's tools and which of them need approval, and the turn's
limits, each from the settings, the agent's definition or the run's `config.configurable`
(in that order; the last one set wins)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agents.registry import AgentDefinition
    from core.contracts import TurnInput, TurnLimits
    from workflows.turn_session import ToolPolicy

DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 3600.0


def effective_limits(inp: TurnInput, agent: AgentDefinition) -> TurnLimits:
    limits = inp.limits
    for layer in (_set_fields(agent.limits), _from_configurable(inp.config)):
        limits = replace(limits, **layer)
    if limits.approval_timeout_seconds is None:
        limits = replace(limits, approval_timeout_seconds=DEFAULT_APPROVAL_TIMEOUT_SECONDS)
    return limits


def _set_fields(limits: TurnLimits) -> dict[str, Any]:
    values = {f.name: getattr(limits, f.name) for f in fields(TurnLimits)}
    return {name: value for name, value in values.items() if value is not None}


def _from_configurable(config: dict[str, Any]) -> dict[str, Any]:
    configurable = config.get("configurable") or {}
    names = {f.name for f in fields(TurnLimits)}
    return {k: v for k, v in configurable.items() if k in names and isinstance(v, (int, float))}


def tool_policy(inp: TurnInput, agent: AgentDefinition) -> ToolPolicy:
    """The agent's tools; `config.configurable.approvals` ({tool: bool}) turns approval on
    or off per run."""
    overrides = (inp.config.get("configurable") or {}).get("approvals") or {}
    needs = {t.name: bool(overrides.get(t.name, t.needs_approval)) for t in agent.tools}
    return ToolPolicy(
        schemas=[tool.openai_schema() for tool in agent.tools],
        system_prompt=agent.system_prompt,
        needs_approval=needs,
        descriptions={t.name: f"{t.name}: {t.description.splitlines()[0]}" for t in agent.tools},
        limits=effective_limits(inp, agent),
    )
