"""What an agent graph's nodes call to reach the model and the tools.

Nodes run inside the turn workflow; these functions turn each model call and each tool call
into its own heartbeating activity of the current turn, and raise TurnStopped once a stop
was accepted, so no model or tool call starts afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from temporalio import workflow

from workflows.stopping import TurnStopped

if TYPE_CHECKING:
    from workflows.turn_session import TurnSession

__all__ = ["TurnStopped", "call_model", "call_tools"]


def _session() -> TurnSession:
    return cast("TurnSession", workflow.instance().session)


async def call_model(messages: Sequence[BaseMessage], *, node: str = "model") -> AIMessage:
    """Stream one model answer (tokens reach the client as they arrive)."""
    return await _session().call_model(list(messages), node=node)


async def call_tools(message: AIMessage) -> list[ToolMessage]:
    """Run the message's tool calls in parallel, each as its own activity."""
    return await _session().call_tools(message)
