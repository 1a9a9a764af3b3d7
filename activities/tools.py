"""Tool activities: each tool call is its own heartbeating activity, sync tools included.

A sync tool runs in a thread (a thread cannot be killed), so a stop is passed to it through
its ToolContext and the activity waits for it to return, up to a grace period: the run is
reported stopped only once the tool has actually stopped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import keep_heartbeating
from activities.turn_events import turn_events
from agents.toolkit import ChatTool, ToolContext, ToolFunction
from core.contracts import (
    CompensationInput,
    ToolCallInput,
    ToolCallResult,
    TurnEvent,
)
from core.settings import StreamingSettings

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 10.0


async def _invoke(func: ToolFunction, args: dict[str, Any], ctx: ToolContext) -> Any:
    if asyncio.iscoroutinefunction(func):
        return await func(**args, ctx=ctx)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, **args, ctx=ctx))


class ToolActivities:
    def __init__(self, tools: dict[str, ChatTool], data_dir: Path, streaming: StreamingSettings):
        self._tools = tools
        self._data_dir = data_dir
        self._streaming = streaming
        self.calls: Counter[str] = Counter()
        """Tool calls started in this worker, by name: tests prove nothing starts after a stop."""
        self.compensations: Counter[str] = Counter()

    @activity.defn(name="run_tool")
    async def run_tool(self, call: ToolCallInput) -> ToolCallResult:
        tool = self._tools.get(call.name)
        if tool is None:
            return ToolCallResult(content=f"error: unknown tool {call.name!r}", status="error")
        try:
            args = tool.validate_args(call.args)
        except ValidationError as err:
            return ToolCallResult(content=f"error: invalid arguments: {err}", status="error")
        self.calls[call.name] += 1
        async with turn_events(self._streaming) as events:
            loop = asyncio.get_running_loop()

            def report(message: str) -> None:
                event = TurnEvent(
                    kind="tool",
                    data={
                        "tool_call_id": call.tool_call_id,
                        "name": call.name,
                        "progress": message,
                    },
                )
                loop.call_soon_threadsafe(events.publish, event)

            ctx = ToolContext(call.idempotency_key, self._data_dir, report=report)
            return await self._run(tool, args, ctx)

    async def _run(self, tool: ChatTool, args: dict[str, Any], ctx: ToolContext) -> ToolCallResult:
        work = asyncio.ensure_future(_invoke(tool.func, args, ctx))
        try:
            async with keep_heartbeating():
                content = await asyncio.shield(work)
        except asyncio.CancelledError:
            ctx.request_stop()
            work.cancel()
            await asyncio.wait({work}, timeout=STOP_GRACE_SECONDS)
            if work.done() and not work.cancelled():
                work.exception()  # ToolStopped, as asked: retrieved, so asyncio stays quiet
            note = "" if work.done() else " (the tool did not stop within the grace period)"
            partial = "\n".join(ctx.output)
            return ToolCallResult(
                content="stopped while running" + note, status="stopped", partial_output=partial
            )
        except Exception as err:  # a tool error is an answer the model can read, like ToolNode
            log.warning("tool %s failed: %r", tool.name, err)
            return ToolCallResult(content=f"error: {err}", status="error")
        return ToolCallResult(content=str(content))

    @activity.defn(name="compensate_tool")
    async def compensate_tool(self, comp: CompensationInput) -> str:
        tool = self._tools.get(comp.tool_name)
        if tool is None or tool.compensator is None:
            return "nothing to undo"
        self.compensations[comp.tool_name] += 1
        ctx = ToolContext(comp.idempotency_key, self._data_dir)
        try:
            async with keep_heartbeating():
                return str(await _invoke(tool.compensator, tool.validate_args(comp.args), ctx))
        except Exception as err:
            # Retryable: the workflow's retry policy decides when to give up and report it.
            raise ApplicationError(
                f"compensator of {comp.tool_name} failed: {err}", type="CompensationFailed"
            ) from err
