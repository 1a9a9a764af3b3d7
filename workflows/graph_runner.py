"""Running the agent's LangGraph graph inside the turn, in segments that can pause.

The graph gets an in-memory checkpointer, which lives in the workflow's memory: a pause
(`interrupt()`, an approval, `interrupt_before` / `interrupt_after`) leaves the graph at a
checkpoint, and the resume continues it there with `Command(resume=...)`. Nothing of it
needs storing: after a worker restart, replaying the history rebuilds it exactly (the
graph's steps are deterministic and its model and tool calls come back from the history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command, StreamMode

    from agents.registry import AgentDefinition
    from core.contracts import ThreadContext, TurnInput
    from workflows.live_state import graph_event, values_event
    from workflows.outbox import Outbox

GRAPH_STREAM_MODES: list[StreamMode] = ["updates", "values", "custom"]
DEFAULT_RECURSION_LIMIT = 50


@dataclass
class Pause:
    """Where the graph stopped to wait for a person."""

    interrupts: list[dict[str, Any]] = field(default_factory=list)
    """[{"value": ..., "id": ...}]: what the graph asked (empty for a breakpoint)."""
    next: list[str] = field(default_factory=list)
    task_ids: dict[str, str] = field(default_factory=dict)
    """interrupt id -> the id of the task that raised it (the thread's `interrupts` keys)."""


class GraphRunner:
    def __init__(
        self, agent: AgentDefinition, inp: TurnInput, context: ThreadContext, outbox: Outbox
    ) -> None:
        self._inp = inp
        self._context = context
        self._outbox = outbox
        self.app = agent.graph.compile(
            checkpointer=InMemorySaver(),
            interrupt_before=_nodes(inp.interrupt_before),
            interrupt_after=_nodes(inp.interrupt_after),
        )
        self._modes: list[StreamMode] = [
            *GRAPH_STREAM_MODES,
            *(m for m in ("tasks", "checkpoints", "debug") if m in inp.stream_modes),
        ]
        user_config = dict(inp.config)
        configurable = {**(user_config.pop("configurable", None) or {}), "thread_id": inp.run_id}
        self.config = cast(
            RunnableConfig,
            {"recursion_limit": DEFAULT_RECURSION_LIMIT, **user_config,
             "configurable": configurable},
        )  # fmt: skip
        self.state: dict[str, Any] = {}

    async def run(self, graph_input: Any) -> Pause | None:
        """Run until the graph ends (None) or pauses (its Pause)."""
        async for mode, chunk in self.app.astream(
            graph_input, config=self.config, stream_mode=self._modes
        ):
            if mode == "values":
                self.state = cast(dict[str, Any], chunk)
                self._outbox.add("values", values_event(self._inp, self._context, self.state))
            else:
                self._outbox.add(mode, self._on_the_thread(mode, graph_event(chunk)))
        snapshot = await self.app.aget_state(self.config)
        if not snapshot.next:
            return None
        pause = Pause(next=list(snapshot.next))
        for task in snapshot.tasks:
            for interrupt in task.interrupts:
                pause.interrupts.append({"value": graph_event(interrupt.value), "id": interrupt.id})
                pause.task_ids[interrupt.id] = task.id
        return pause

    def _on_the_thread(self, mode: str, event: Any) -> Any:
        """The graph runs on a per-turn checkpointer keyed by the run id; what clients see
        names their thread."""
        payload = event.get("payload") if mode == "debug" and isinstance(event, dict) else event
        if mode in ("checkpoints", "debug") and isinstance(payload, dict):
            for key in ("config", "parent_config"):
                configurable = (payload.get(key) or {}).get("configurable")
                if isinstance(configurable, dict) and "thread_id" in configurable:
                    configurable["thread_id"] = self._inp.thread_id
        return event

    @staticmethod
    def resume(value: Any) -> Any:
        """The input that continues a paused graph (None continues a breakpoint)."""
        return Command(resume=value) if value is not None else None

    def messages(self) -> list[BaseMessage]:
        return list(self.state.get("messages", []))


def _nodes(names: list[str]) -> Any:
    """LangGraph's breakpoints: "*" (every node), a list of nodes, or none."""
    if names == ["*"]:
        return "*"
    return names or None
