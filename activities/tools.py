"""Tool activities: each tool call is its own heartbeating activity, sync tools included.

A sync tool runs in a thread of the tools' own bounded pool (a thread cannot be killed), so
a stop is passed to it through its ToolContext and the activity waits for it to return, up
to a grace period: the run is reported stopped only once the tool has actually stopped.
Compensations get a pool of their own, so tools that ignored a stop never starve a rollback.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.call_watch import CallWatch, StopCause, cancel_cause, watched_call
from activities.live import RunLive
from agents.toolkit import ChatTool, ToolContext, ToolFunction
from broker import Broker
from core.contracts import CompensationInput, ToolCallInput, ToolCallResult
from core.live import Live
from core.settings import ToolSettings

log = logging.getLogger(__name__)


async def _invoke(
    func: ToolFunction, args: dict[str, Any], ctx: ToolContext, pool: Executor
) -> Any:
    if asyncio.iscoroutinefunction(func):
        return await func(**args, ctx=ctx)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, functools.partial(func, **args, ctx=ctx))


class ToolActivities:
    def __init__(
        self,
        tools: dict[str, ChatTool],
        data_dir: Path,
        broker: Broker,
        settings: ToolSettings,
        pools: tuple[Executor, Executor],
    ) -> None:
        self._tools = tools
        self._data_dir = data_dir
        self._broker = broker
        self._settings = settings
        self._pool, self._compensation_pool = pools
        self.calls: Counter[str] = Counter()
        """Tool calls started in this worker, by name: tests prove nothing starts after a stop."""
        self.compensations: Counter[str] = Counter()

    @activity.defn(name="run_tool")
    async def run_tool(self, call: ToolCallInput) -> ToolCallResult:
        live = RunLive(self._broker, call.run_id)
        await live.outbox(call.outbox)
        attempt = activity.info().attempt
        if attempt > 1:  # progress starts over: clients drop what they showed of the call
            live.nowait(Live.RESET, {"tool_call_id": call.tool_call_id, "attempt": attempt})
        result = await self._call(call, live)
        if result.status != "stopped":  # a stopped call's message is written by the turn
            await live.acked(Live.MESSAGES, [_tool_message(call, result), call.stream_metadata])
        return result

    async def _call(self, call: ToolCallInput, live: RunLive) -> ToolCallResult:
        tool = self._tools.get(call.name)
        if tool is None:
            return ToolCallResult(content=f"error: unknown tool {call.name!r}", status="error")
        try:
            args = tool.validate_args(call.args)
        except ValidationError as err:
            return ToolCallResult(content=f"error: invalid arguments: {err}", status="error")
        self.calls[call.name] += 1
        loop = asyncio.get_running_loop()

        def report(message: str) -> None:
            body = {"tool_call_id": call.tool_call_id, "name": call.name, "progress": message}
            loop.call_soon_threadsafe(live.nowait, Live.PROGRESS, body)

        ctx = ToolContext(call.idempotency_key, self._data_dir, report=report)
        return await self._run(tool, args, ctx, call.run_id)

    async def _run(
        self, tool: ChatTool, args: dict[str, Any], ctx: ToolContext, run_id: str
    ) -> ToolCallResult:
        work = asyncio.ensure_future(_invoke(tool.func, args, ctx, self._pool))
        watch: CallWatch | None = None
        try:
            async with watched_call(self._broker, run_id) as watch:
                content = await asyncio.shield(work)
        except asyncio.CancelledError:
            ctx.request_stop()
            work.cancel()
            await asyncio.wait({work}, timeout=self._settings.stop_grace_seconds)
            if work.done() and not work.cancelled():
                work.exception()  # ToolStopped, as asked: retrieved, so asyncio stays quiet
            if cancel_cause(watch) is StopCause.SHUTDOWN:
                raise ApplicationError(
                    "the worker is shutting down; the tool call restarts on another worker",
                    type="WorkerShutdown",
                ) from None
            note = "" if work.done() else " (the tool did not stop within the grace period)"
            return ToolCallResult(
                content="stopped while running" + note,
                status="stopped",
                partial_output="\n".join(ctx.output),
            )
        except Exception as err:  # a tool error is an answer the model can read, like ToolNode
            log.warning("tool %s failed: %r", tool.name, err)
            return ToolCallResult(content=f"error: {err}", status="error")
        return ToolCallResult(content=str(content))

    @activity.defn(name="compensate_tool")
    async def compensate_tool(self, comp: CompensationInput) -> str:
        if comp.run_id:
            await RunLive(self._broker, comp.run_id).outbox(comp.outbox)
        tool = self._tools.get(comp.tool_name)
        if tool is None or tool.compensator is None:
            return "nothing to undo"
        self.compensations[comp.tool_name] += 1
        ctx = ToolContext(comp.idempotency_key, self._data_dir)
        args = tool.validate_args(comp.args)
        heartbeat = asyncio.create_task(_heartbeat_until_done())
        try:
            pool = self._compensation_pool
            return str(await _invoke(tool.compensator, args, ctx, pool))
        except asyncio.CancelledError:
            # Only a worker shutdown cancels a compensation: let another worker finish it.
            raise ApplicationError(
                f"compensation of {comp.tool_name} interrupted ({cancel_cause().value})",
                type="CompensationInterrupted",
            ) from None
        except Exception as err:
            # Retryable: the workflow's retry policy decides when to give up and report it.
            raise ApplicationError(
                f"compensator of {comp.tool_name} failed: {err}", type="CompensationFailed"
            ) from err
        finally:
            heartbeat.cancel()


async def _heartbeat_until_done() -> None:
    """Compensations are not stoppable (a rollback must finish); they only show liveness."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(1.0)


def _tool_message(call: ToolCallInput, result: ToolCallResult) -> dict[str, Any]:
    """The ToolMessage as the `messages` stream mode shows it (the Agent Server's shape)."""
    return {
        "content": result.content,
        "additional_kwargs": {},
        "response_metadata": {},
        "type": "tool",
        "name": call.name,
        "id": call.message_id,
        "tool_call_id": call.tool_call_id,
        "artifact": None,
        "status": "success" if result.status == "success" else "error",
    }
