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
from langgraph.types import interrupt
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from core.contracts import (
    ModelCallInput,
    ModelCallResult,
    PartialAnswerInput,
    RecordedStopInput,
    StopRequest,
    ThreadContext,
    ToolCallInput,
    ToolCallResult,
    TurnInput,
    TurnLimits,
)
from core.live import HistoryRef
from core.messages import from_dict, to_dicts
from workflows.approvals import EDIT_NOTICE, Verdict, gated, hitl_request, verdicts
from workflows.calls import (
    call_metadata,
    model_activity,
    partial_activity,
    recorded_stop_activity,
    tool_activity,
)
from workflows.outbox import Outbox
from workflows.stopping import TurnStopped

ToolState = Literal["not_run", "running", "done", "stopped", "error"]
STOP_CANCEL_WAIT = timedelta(seconds=10)
"""A call stopped by a broker notice waits this long for the stop's cancel, which the API
sends together with the notice (Temporal answers it in milliseconds; seconds under load)."""
STOP_RECORD_WAIT = timedelta(seconds=60)
"""Past the cancel wait, the turn adopts the stop from the run's record (the API records it
before the notice, then died before the cancel got out). A notice with no stop in the
record either, by this time, is a fault, not a stop."""


@dataclass
class ToolCallRecord:
    call_id: str
    name: str
    args: dict[str, Any]
    idempotency_key: str
    state: ToolState = "not_run"
    result: ToolCallResult | None = None
    edited: bool = False
    """A reviewer changed the arguments before it ran (they are `args` now)."""


@dataclass(frozen=True)
class ToolPolicy:
    """What the turn knows about its agent's tools and limits."""

    schemas: list[dict[str, Any]]
    system_prompt: str = ""
    needs_approval: dict[str, bool] | None = None
    descriptions: dict[str, str] | None = None
    limits: TurnLimits = TurnLimits()


class TurnSession:
    def __init__(self, inp: TurnInput, policy: ToolPolicy):
        self.inp = inp
        self.run_id = inp.run_id
        """The run the turn works for now: a resume moves a paused turn to a new run."""
        self.policy = policy
        self.stop: StopRequest | None = None
        self.produced: list[BaseMessage] = []
        self.partial_answer: AIMessage | None = None
        self.tool_calls: dict[str, ToolCallRecord] = {}
        self.started_tools: list[str] = []
        self.outbox = Outbox()
        self.context: ThreadContext | None = None
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

    def _spend(self, what: str, used: int, more: int, limit: int | None) -> None:
        """Step budget: past it, the turn ends like a stop that keeps the partial state."""
        if limit is not None and used + more > limit:
            reason = f"budget exhausted: at most {limit} {what} per turn"
            self.begin_stop(StopRequest(action="interrupt", actor="chatstop", reason=reason))
            raise TurnStopped()

    async def _await(self, handle: asyncio.Task[Any]) -> Any:
        """Await an activity; None means a stopped call whose result was lost (it was
        cancelled, or its worker died) instead of returned."""
        self._in_flight.add(handle)
        try:
            return await handle
        except (ActivityError, asyncio.CancelledError):
            if self.stop is not None:
                return None
            raise
        finally:
            self._in_flight.discard(handle)

    async def _stopped_by_notice(self) -> None:
        """The call stopped on the broker's stop notice. The stop itself (the cancel, sent
        with the notice) is on its way to this workflow, or already here: wait for it. If
        it does not come, the API died in between; the stop is in the run's record, and the
        turn takes it from there (the local activity's result puts it in the history)."""
        if await self._stop_arrives(STOP_CANCEL_WAIT):
            return
        recorded = await self._await(
            recorded_stop_activity(
                RecordedStopInput(thread_id=self.inp.thread_id, run_id=self.run_id)
            )
        )
        if self.stop is None and recorded is not None:
            workflow.logger.warning(
                "run %s: a notice stopped the call but no cancel came; adopting the stop "
                "recorded by %s", self.run_id, recorded.actor,
            )  # fmt: skip
            self.begin_stop(recorded)
        if self.stop is None and not await self._stop_arrives(STOP_RECORD_WAIT - STOP_CANCEL_WAIT):
            raise ApplicationError(
                "a call was stopped by a broker notice, but no stop was recorded",
                type="UnrecordedStop",
            )

    async def _stop_arrives(self, within: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self.stop is not None, timeout=within)
        except TimeoutError:
            return False
        return True

    # --- model ----------------------------------------------------------------------------

    async def call_model(self, messages: list[BaseMessage], *, node: str) -> AIMessage:
        self._ensure_running()
        self._spend("model calls", self._model_calls, 1, self.policy.limits.max_model_calls)
        self._model_calls += 1
        prompt = self.policy.system_prompt
        if prompt and not isinstance(messages[0], SystemMessage):
            messages = [SystemMessage(content=prompt, id="system"), *messages]
        call = self._model_input(messages, node)
        handle = model_activity(call, self.inp)
        result: ModelCallResult | None = await self._await(handle)
        self.outbox.delivered(call.outbox)
        if result is None:
            self.partial_answer = await self._recover_partial(call.message_id)
            raise TurnStopped()
        message = from_dict(result.message)
        assert isinstance(message, AIMessage)
        if result.stopped:
            self.partial_answer = message
            if self.stop is None:
                await self._stopped_by_notice()
            raise TurnStopped()
        self.produced.append(message)
        for tc in message.tool_calls:
            key = f"{workflow.info().workflow_id}:{tc['id']}"
            self.tool_calls[tc["id"] or ""] = ToolCallRecord(
                call_id=tc["id"] or "", name=tc["name"], args=tc["args"], idempotency_key=key
            )
        self._ensure_running()  # a stop accepted while this call finished still ends the turn
        return message

    def _model_input(self, messages: list[BaseMessage], node: str) -> ModelCallInput:
        base, rest = self._split_known_history(messages)
        return ModelCallInput(
            thread_id=self.inp.thread_id,
            run_id=self.run_id,
            message_id=f"ai-{self.inp.run_id}-{self._model_calls}",
            messages=to_dicts(rest),
            base=base,
            tools=self.policy.schemas,
            model_name=self.inp.model_name,
            node=node,
            stream_metadata=call_metadata(self.inp, self.run_id, node, model=self.inp.model_name),
            outbox=self.outbox.pending(),
        )

    def _split_known_history(
        self, messages: list[BaseMessage]
    ) -> tuple[HistoryRef | None, list[BaseMessage]]:
        """The thread's window, when the prompt contains it unchanged, travels by reference:
        a long thread is not copied into every model call's payload."""
        if self.context is None or not self.context.window:
            return None, messages
        window = self.context.window
        offset = 1 if messages and isinstance(messages[0], SystemMessage) else 0
        ids = [m.id for m in messages[offset : offset + len(window)]]
        if ids != [m.get("id") for m in window]:
            return None, messages
        ref = self.context.window_ref
        base = HistoryRef(
            thread_id=self.inp.thread_id,
            checkpoint_id=ref.checkpoint_id,
            start=ref.start,
            count=ref.count,
        )
        return base, [*messages[:offset], *messages[offset + len(window) :]]

    async def _recover_partial(self, message_id: str) -> AIMessage | None:
        """The call was stopped but its result is lost (its worker died): what the client saw
        of it is on the broker."""
        text: str = await partial_activity(
            PartialAnswerInput(run_id=self.run_id, message_id=message_id)
        )
        return AIMessage(content=text, id=message_id) if text else None

    # --- tools ----------------------------------------------------------------------------

    async def call_tools(self, message: AIMessage) -> list[ToolMessage]:
        self._ensure_running()
        review = gated(message.tool_calls, self.policy.needs_approval or {})
        answered: dict[str, ToolMessage] = {}
        if review:
            # Pauses the turn (a LangGraph interrupt) until a person decides; the node runs
            # again on resume, and this time interrupt() returns the decisions.
            decisions = interrupt(hitl_request(review, self.policy.descriptions or {}))
            for verdict in verdicts(review, decisions):
                self._apply(verdict, answered)
        to_run = [tc["id"] or "" for tc in message.tool_calls if tc["id"] not in answered]
        used = len(self.started_tools)
        self._spend("tool calls", used, len(to_run), self.policy.limits.max_tool_calls)
        outbox = self.outbox.pending()
        results = await asyncio.gather(
            *(self._call_tool(call_id, outbox) for call_id in to_run),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, TurnStopped) or self.stop is not None:
                raise TurnStopped()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        ran = {r.tool_call_id: r for r in results if isinstance(r, ToolMessage)}
        return [answered.get(tc["id"] or "") or ran[tc["id"] or ""] for tc in message.tool_calls]

    def _apply(self, verdict: Verdict, answered: dict[str, ToolMessage]) -> None:
        call_id = verdict.call["id"] or ""
        record = self.tool_calls[call_id]
        if verdict.run:
            record.args, record.edited = verdict.args, verdict.edited
            return
        assert verdict.answer is not None
        verdict.answer.id = f"tool-{self.inp.run_id}-{call_id}"
        record.state = "done"
        answered[call_id] = verdict.answer
        self.produced.append(verdict.answer)

    async def _call_tool(self, call_id: str, outbox: list[Any]) -> ToolMessage:
        record = self.tool_calls[call_id]
        self._ensure_running()
        record.state = "running"
        self.started_tools.append(call_id)
        message_id = f"tool-{self.inp.run_id}-{call_id}"
        call = ToolCallInput(
            thread_id=self.inp.thread_id,
            run_id=self.run_id,
            tool_call_id=call_id,
            name=record.name,
            args=record.args,
            idempotency_key=record.idempotency_key,
            message_id=message_id,
            stream_metadata=call_metadata(self.inp, self.run_id, "tools"),
            outbox=outbox,
        )
        result: ToolCallResult | None = await self._await(tool_activity(call, self.inp))
        self.outbox.delivered(outbox)
        record.result = result
        if result is None or result.status == "stopped":
            record.state = "stopped"
            if result is not None and self.stop is None:
                await self._stopped_by_notice()
            raise TurnStopped()
        record.state = "done" if result.status == "success" else "error"
        tool_message = ToolMessage(
            content=(EDIT_NOTICE if record.edited else "") + result.content,
            tool_call_id=call_id,
            name=record.name,
            id=message_id,
            status="success" if result.status == "success" else "error",
        )
        self.produced.append(tool_message)
        return tool_message
