"""What the official Python `langgraph-sdk` conformance tests share: the client, prompts,
and the Agent Server's shapes (langgraph_sdk.schema's TypedDicts are the reference)."""

from __future__ import annotations

from typing import Any

import httpx
from langgraph_sdk import get_client

from tests.fixtures.eventually import eventually
from tests.stack import Stack

CHECKPOINT_KEYS = {"thread_id", "checkpoint_ns", "checkpoint_id"}
TOOL_PROMPT = '[tool=search_docs {"query": "stop"}][tokens=3]'


def sdk(stack: Stack) -> Any:
    """The official client, typed Any: its stubs say `runs.cancel` returns None and the
    TypedDicts forbid the reads these tests make on purpose."""
    return get_client(url=stack.api_url)


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def required_keys(typed_dict: Any) -> frozenset[str]:
    """A TypedDict's required keys (schema.py's postponed annotations hide NotRequired from
    `__required_keys__`, so it is read from the annotation's text)."""
    hints = {
        k: getattr(v, "__forward_arg__", str(v)) for k, v in typed_dict.__annotations__.items()
    }
    return frozenset(k for k, text in hints.items() if not text.startswith("NotRequired"))


def refusal(error: httpx.HTTPStatusError) -> tuple[int, str]:
    """Status and detail of a refused call (runs.wait raises plain httpx errors)."""
    return error.response.status_code, error.response.json()["detail"]


async def stream_run(client: Any, thread: str | None, prompt: str, modes: list[str]) -> list[Any]:
    stream = client.runs.stream(thread, "agent", input=user(prompt), stream_mode=modes)
    parts = [part async for part in stream]
    assert parts[0].event == "metadata" and parts[-1].event == "end", parts[-1]
    assert parts[-1].data["status"] == "success", parts[-1].data
    return parts


def events_of(parts: list[Any], event: str) -> list[Any]:
    return [part.data for part in parts if part.event == event]


async def streaming_run(stack: Stack, client: Any, thread: str, marker: str) -> str:
    """A long background answer, once the model has streamed some of it."""
    prompt = f"[tokens=3000][pace=10] {marker}"
    run = await client.runs.create(thread, "agent", input=user(prompt))
    await eventually(lambda: any(c["tokens"] >= 10 for c in stack.model_calls(marker)),
                     within=30, what="the model is streaming")  # fmt: skip
    return str(run["run_id"])
