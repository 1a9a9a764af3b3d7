"""The model activity: one LLM call, streamed token by token through langchain-openai.

Streaming lives in the activity because only an activity may do I/O; each token goes to the
run's live stream on the broker as it arrives. On a Stop the upstream HTTP stream is closed
(billing stops) and the partial answer is returned as a normal result, because a result is
the one way to hand data back from a cancelled activity (shared/FACTS.md). A worker shutdown
is not a Stop: the attempt fails and Temporal runs it again on another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage
from langchain_openai import ChatOpenAI
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.call_watch import CallWatch, StopCause, cancel_cause, watched_call
from activities.chat_client import ChunkDictOpenAI, chunk_dict_client, streaming_chat_model
from activities.live import RunLive
from activities.model_answer import Answer
from broker import Broker
from core.contracts import ModelCallInput, ModelCallResult
from core.live import Live
from core.messages import from_dicts, to_dict
from core.settings import Settings
from stores.thread_store import ThreadStore

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
    def __init__(self, settings: Settings, broker: Broker, store: ThreadStore) -> None:
        self._settings = settings
        self._broker = broker
        self._store = store
        self._models: dict[str, ChatOpenAI] = {}
        self._client: ChunkDictOpenAI | None = None

    async def aclose(self) -> None:
        """Close the model connections; the worker calls this once no call runs."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _chat_model(self, call: ModelCallInput) -> Any:
        """One ChatOpenAI per model and one client for the worker's life: building them per
        call builds new HTTP clients and TLS contexts each time (measured: a fifth of the
        worker's CPU with 20 streams, and tens of milliseconds before each first token)."""
        base_url, api_key = self._settings.model_base_url, self._settings.model_api_key
        if self._client is None:
            self._client = chunk_dict_client(base_url, api_key)
        llm = self._models.get(call.model_name)
        if llm is None:
            llm = self._models[call.model_name] = streaming_chat_model(
                call.model_name, base_url=base_url, api_key=api_key, client=self._client
            )
        return llm.bind_tools(call.tools) if call.tools else llm

    async def _prompt(self, call: ModelCallInput) -> list[BaseMessage]:
        rest = from_dicts(call.messages)
        if call.base is None:
            return rest
        window = await self._store.window(call.base)
        system = rest[:1] if rest and rest[0].type == "system" else []
        return [*system, *window, *rest[len(system) :]]

    @activity.defn(name="call_model")
    async def call_model(self, call: ModelCallInput) -> ModelCallResult:
        live = RunLive(self._broker, call.run_id)
        await live.outbox(call.outbox)
        attempt = activity.info().attempt
        if attempt > 1:  # clients drop the half answer of the failed attempt
            live.nowait(Live.RESET, {"message_id": call.message_id, "attempt": attempt})
        answer = Answer(call.message_id, call.stream_metadata)
        try:
            await self._stream(call, answer, live)
        except (openai.OpenAIError, httpx.HTTPError) as err:
            raise classify_model_error(err, self._settings.model_base_url) from err
        return await self._result(answer, live, stopped=answer.stopped)

    async def _stream(self, call: ModelCallInput, answer: Answer, live: RunLive) -> None:
        idle = self._settings.model.stream_idle_timeout_seconds
        watch: CallWatch | None = None
        try:
            async with watched_call(self._broker, call.run_id, idle_timeout=idle) as watch:
                stream = self._chat_model(call).astream(await self._prompt(call))
                async with contextlib.aclosing(stream) as chunks:
                    async for chunk in chunks:
                        if watch.stop_requested:  # the task's cancel may have been lost
                            raise asyncio.CancelledError()
                        watch.progress()
                        body = answer.add(chunk)
                        if body is not None:
                            live.nowait_json(Live.MESSAGES, body)
        except asyncio.CancelledError:
            # aclosing() has closed the HTTP response: the provider sees the disconnect.
            cause = cancel_cause(watch)
            if cause is StopCause.SHUTDOWN:
                raise ApplicationError(
                    "the worker is shutting down; the call restarts on another worker",
                    type="WorkerShutdown",
                ) from None
            if cause is StopCause.STALLED:
                raise ApplicationError(
                    f"model stream stalled: no data for {idle:g} s", type="ModelStreamStalled"
                ) from None
            answer.stopped = True

    async def _result(self, answer: Answer, live: RunLive, *, stopped: bool) -> ModelCallResult:
        # The closing chunk, acked: every token of this call is on the broker before the
        # workflow's next event (and the next activity's first publish) can be.
        await live.acked_json(Live.MESSAGES, answer.closing_chunk())
        message: AIMessage = answer.message()
        return ModelCallResult(message=to_dict(message), stopped=stopped, tokens=answer.tokens)
