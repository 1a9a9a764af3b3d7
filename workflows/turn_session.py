"""One turn's journal: what the graph produced, which calls are in flight, and the stop.

The journal, not the graph's state, is what a stop keeps or rolls back: when the graph is
cut short its state is gone, but every model and tool result already passed through here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

from core.contracts import (
    ModelCallInput,
    ModelCallResult,
    StopRequest,
    ToolCallInput,
    ToolCallResult,
    TurnInput,
)
from core.messages import from_dict, to_dicts
from workflows.agent_calls import TurnStopped

ToolState = Literal["not_run", "running", "done", "stopped", "error"]


@dataclass
class ToolCallRecord:
    call_id: str
    name: str
    args: dict[str, Any]
    idempotency_key: str
    state: ToolState = "not_run"
    result: ToolCallResult | None = None


class TurnSession:
    def __init__(self, inp: TurnInput, tool_schemas: list[dict[str, Any]], system_prompt: str):
        self.inp = inp
        self.stop: StopRequest | None = None
        self.produced: list[BaseMessage] = []
        self.partial_answer: AIMessage | None = None
        self.tool_calls: dict[str, ToolCallRecord] = {}
        self.started_tools: list[str] = []
        self._tool_schemas = tool_schemas
        self._system_prompt = system_prompt
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._model_calls = 0

    # --- stop -----------------------------------------------------------------------------

    def begin_stop(self, request: StopRequest) -> None:
        """Accept a stop: cancel every in-flight activity; nothing new starts afterwards."""
        if self.stop is None:
            self.stop = request
        for handle in list(self._in_flight):
            handle.cancel()

    def _ensure_running(self) -> None:
        if self.stop is not None:
            raise TurnStopped()

    async def _await(self, handle: asyncio.Task[Any]) -> Any:
        """Await an activity; None means it was cancelled and raised instead of returning."""
        self._in_flight.add(handle)
        try:
            return await handle
        except (ActivityError, asyncio.CancelledError) as err:
            if self.stop is not None and is_cancelled_exception(err):
                return None
            raise
        finally:
            self._in_flight.discard(handle)

    def _activity_options(self, summary: str, attempts: int) -> dict[str, Any]:
        return {
            "start_to_close_timeout": timedelta(minutes=10),
            "heartbeat_timeout": timedelta(seconds=self.inp.heartbeat_timeout_seconds),
            "retry_policy": RetryPolicy(
                initial_interval=timedelta(milliseconds=500),
                maximum_interval=timedelta(seconds=5),
                maximum_attempts=attempts,
                non_retryable_error_types=["ModelRequestRejected"],
            ),
            # The run reports stopped only after the activity really closed its stream.
            "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            "summary": summary,
        }

    # --- model ----------------------------------------------------------------------------

    async def call_model(self, messages: list[BaseMessage], *, node: str) -> AIMessage:
        self._ensure_running()
        self._model_calls += 1
        if self._system_prompt and not isinstance(messages[0], SystemMessage):
            messages = [SystemMessage(content=self._system_prompt, id="system"), *messages]
        call = ModelCallInput(
            thread_id=self.inp.thread_id,
            run_id=self.inp.run_id,
            message_id=f"ai-{self.inp.run_id}-{self._model_calls}",
            messages=to_dicts(messages),
            tools=self._tool_schemas,
            model_name=self.inp.model_name,
            node=node,
        )
        handle = workflow.start_activity(
            "call_model",
            call,
            result_type=ModelCallResult,
            **self._activity_options(f"model {self.inp.model_name}", self.inp.model_max_attempts),
        )
        result: ModelCallResult | None = await self._await(handle)
        if result is None:
            raise TurnStopped()
        message = from_dict(result.message)
        assert isinstance(message, AIMessage)
        if result.stopped:
            self.partial_answer = message
            raise TurnStopped()
        self.produced.append(message)
        for tc in message.tool_calls:
            key = f"{workflow.info().workflow_id}:{tc['id']}"
            self.tool_calls[tc["id"] or ""] = ToolCallRecord(
                call_id=tc["id"] or "", name=tc["name"], args=tc["args"], idempotency_key=key
            )
        self._ensure_running()  # a stop accepted while this call finished still ends the turn
        return message

    # --- tools ----------------------------------------------------------------------------

    async def call_tools(self, message: AIMessage) -> list[ToolMessage]:
        results = await asyncio.gather(
            *(self._call_tool(tc["id"] or "") for tc in message.tool_calls),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, TurnStopped) or self.stop is not None:
                raise TurnStopped()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, ToolMessage)]

    async def _call_tool(self, call_id: str) -> ToolMessage:
        record = self.tool_calls[call_id]
        self._ensure_running()
        record.state = "running"
        self.started_tools.append(call_id)
        call = ToolCallInput(
            thread_id=self.inp.thread_id,
            run_id=self.inp.run_id,
            tool_call_id=call_id,
            name=record.name,
            args=record.args,
            idempotency_key=record.idempotency_key,
        )
        handle = workflow.start_activity(
            "run_tool",
            call,
            result_type=ToolCallResult,
            **self._activity_options(f"tool {record.name}", self.inp.tool_max_attempts),
        )
        result: ToolCallResult | None = await self._await(handle)
        record.result = result
        if result is None or result.status == "stopped":
            record.state = "stopped"
            raise TurnStopped()
        record.state = "done" if result.status == "success" else "error"
        tool_message = ToolMessage(
            content=result.content,
            tool_call_id=call_id,
            name=record.name,
            id=f"tool-{self.inp.run_id}-{call_id}",
            status="success" if result.status == "success" else "error",
        )
        self.produced.append(tool_message)
        return tool_message
