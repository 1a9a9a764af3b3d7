"""The default agent: a ReAct loop (model -> tools -> model ...) as a LangGraph graph."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from agents.demo_tools import DEMO_TOOLS
from agents.registry import AgentDefinition
from workflows.agent_calls import call_model, call_tools

SYSTEM_PROMPT = (
    "You are chatstop's demo assistant. Use search_docs for product questions, "
    "generate_report for reports, create_ticket to file support tickets and send_email to "
    "send emails (a person approves each one)."
)


async def model(state: MessagesState) -> dict[str, Any]:
    return {"messages": [await call_model(state["messages"])]}


async def tools(state: MessagesState) -> dict[str, Any]:
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    return {"messages": await call_tools(last)}


async def route(state: MessagesState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


def build_react_graph() -> StateGraph[Any, Any, Any, Any]:
    builder = StateGraph(MessagesState)
    builder.add_node("model", model)
    builder.add_node("tools", tools)
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", route, ["tools", END])
    builder.add_edge("tools", "model")
    return builder


graph = AgentDefinition(graph=build_react_graph(), tools=DEMO_TOOLS, system_prompt=SYSTEM_PROMPT)
