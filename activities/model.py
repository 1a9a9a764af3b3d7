"""The model activity: one LLM call, streamed token by token through langchain-openai.

Streaming lives in the activity because only an activity may do I/O; tokens reach the client
through the turn's Workflow Stream. On cancel the upstream HTTP stream is closed (billing
stops) and the partial answer is returned as a normal result, because a result is the one
way to hand data back from a cancelled activity (shared/FACTS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.utils import message_chunk_to_message
from langchain_openai import ChatOpenAI
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import keep_heartbeating
from activities.turn_events import TurnEventPublisher, turn_events
from core.contracts import ModelCallInput, ModelCallResult, TurnEvent
from core.messages import from_dicts, text_of, to_dict
from core.settings import Settings

RETRYABLE_STATUS = {408, 409, 429}


def classify_model_error(err: Exception, base_url: str | None) -> ApplicationError:
    """Provider errors -> retryable or not, named so the client sees the cause."""
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        return ApplicationError(
            f"model endpoint returned HTTP {status}: {err.message}",
            type="ModelUnavailable" if retryable else "ModelRequestRejected",
            non_retryable=not retryable,
        )
    if isinstance(err, (openai.APIConnectionError, openai.APITimeoutError, httpx.HTTPError)):
        where = base_url or "the OpenAI API"
        return ApplicationError(
            f"model endpoint unreachable at {where}: {err}", type="ModelUnreachable"
        )
    return ApplicationError(f"model call failed: {err!r}", type="ModelCallFailed")


class ModelActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _chat_model(self, call: ModelCallInput) -> Any:
        llm = ChatOpenAI(
            model=call.model_name,
            base_url=self._settings.model_base_url,
            api_key=self._settings.model_api_key,  # type: ignore[arg-type]
            max_retries=0,  # Temporal retries, so every attempt shows in the history
            streaming=True,
            timeout=60,
        )
        return llm.bind_tools(call.tools) if call.tools else llm

    @activity.defn(name="call_model")
    async def call_model(self, call: ModelCallInput) -> ModelCallResult:
        label = {"message_id": call.message_id, "node": call.node}
        async with turn_events(self._settings.streaming, label) as events:
            attempt = activity.info().attempt
            if attempt > 1:
                # Clients drop the half answer of the failed attempt before new tokens come.
                events.publish(
                    TurnEvent(
                        kind="reset", data={"message_id": call.message_id, "attempt": attempt}
                    )
                )
            return await self._stream(call, events)

    async def _stream(self, call: ModelCallInput, events: TurnEventPublisher) -> ModelCallResult:
        answer: AIMessageChunk | None = None
        tokens = 0
        try:
            async with keep_heartbeating():
                stream = self._chat_model(call).astream(from_dicts(call.messages))
                async with contextlib.aclosing(stream) as chunks:
                    async for chunk in chunks:
                        if activity.is_cancelled():  # the task's cancel may have been lost
                            raise asyncio.CancelledError()
                        activity.heartbeat()
                        answer = chunk if answer is None else answer + chunk
                        text = text_of(chunk)
                        if text:
                            tokens += 1
                            events.token(text)
        except asyncio.CancelledError:
            # aclosing() has closed the HTTP response: the provider sees the disconnect.
            partial = AIMessage(content=text_of(answer) if answer else "", id=call.message_id)
            return ModelCallResult(message=to_dict(partial), stopped=True, tokens=tokens)
        except (openai.OpenAIError, httpx.HTTPError) as err:
            raise classify_model_error(err, self._settings.model_base_url) from err
        message = message_chunk_to_message(answer) if answer else AIMessage(content="")
        message.id = call.message_id
        return ModelCallResult(message=to_dict(message), tokens=tokens)
