"""The anchor's agent: chatstop's ReAct loop (agents/react.py) and its demo tools, written the
plain LangGraph way and served by `langgraph dev` (bench/anchor/langgraph.json).

It runs in its own venv (.venv-anchor) with langgraph-cli's dependencies, so it imports
nothing from chatstop: the tools below are copies of agents/demo_tools.py's, minus
create_ticket (no benchmark calls it).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from langchain_core.messages import AIMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

MODEL_URL_ENV = "BENCH_SCRIPTED_MODEL_URL"
"""Set by bench/anchor_stack.py: the scripted model's OpenAI base URL (…/v1)."""

SYSTEM_PROMPT = (
    "You are chatstop's demo assistant. Use search_docs for product questions, "
    "generate_report for reports and create_ticket to file support tickets."
)

_DOCS = [
    "Temporal workflows are durable: their state survives worker and server restarts.",
    "Activities do the I/O; a heartbeating activity learns of cancellation promptly.",
    "chatstop runs every chat turn as one Temporal workflow execution.",
    "Stop cancels the turn: the model stream is closed and running tools are stopped.",
    "Rollback runs each side-effecting tool's compensator in reverse order.",
    "LangGraph graphs describe the agent; each model and tool call is its own activity.",
    "The Temporal Web UI shows every turn, its activities and who stopped it.",
    "Workflow Streams carry tokens from activities to the API with low latency.",
]


@tool
def search_docs(query: str) -> str:
    """Search the product documentation. Fast and read-only."""
    words = {w.lower() for w in query.split() if len(w) > 2}
    scored = sorted(_DOCS, key=lambda doc: -sum(w in doc.lower() for w in words))
    return "\n".join(f"- {doc}" for doc in scored[:3])


@tool
async def generate_report(topic: str, seconds: int = 10) -> str:
    """Write a report on a topic. Slow: takes `seconds` and reports progress every second."""
    progress = get_stream_writer()  # the `custom` stream mode, as chatstop's ctx.progress
    for step in range(1, seconds + 1):
        await asyncio.sleep(1.0)
        progress({"tool": "generate_report", "progress": f"{topic}: section {step}/{seconds}"})
    return f"Report on {topic}: {seconds} sections written."


TOOLS = [search_docs, generate_report]


def _chat_model() -> Any:
    # Built per call, as chatstop's model activity does; max_retries=0 as there.
    llm = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=os.environ[MODEL_URL_ENV],
        api_key="scripted",  # type: ignore[arg-type]
        max_retries=0,
        streaming=True,
        timeout=60,
    )
    return llm.bind_tools(TOOLS)


async def model(state: MessagesState) -> dict[str, Any]:
    messages = [SystemMessage(content=SYSTEM_PROMPT), *state["messages"]]
    return {"messages": [await _chat_model().ainvoke(messages)]}


async def route(state: MessagesState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


def build_graph() -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("model", model)
    builder.add_node("tools", ToolNode(TOOLS))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", route, ["tools", END])
    builder.add_edge("tools", "model")
    return builder.compile()


graph = build_graph()
