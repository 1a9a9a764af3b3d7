"""OpenAI wire format: request validation, error bodies and response/chunk builders.

The validation deliberately mirrors the checks real OpenAI applies that our agents can trip
over (malformed bodies, tool calls without tool results), so bugs that would 400 in production
also 400 against the double instead of passing silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devstack.scripted_model.directives import ToolDirective, message_text

SSE_DONE = b"data: [DONE]\n\n"

_DANGLING_TOOL_CALLS = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to "
    "each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}"
)
_ORPHAN_TOOL_MESSAGE = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceding message "
    "with 'tool_calls' (tool_call_id {call_id!r} does not match any of them)."
)
# Error "type" strings OpenAI uses for the statuses agents are most likely to handle.
_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    408: "timeout_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class RequestError(Exception):
    """A request the double refuses; carries everything needed for an OpenAI error body."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        err_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI returns for errors (openai-python parses exactly this shape)."""
        return {
            "error": {
                "message": self.message,
                "type": self.err_type,
                "param": self.param,
                "code": self.code,
            }
        }


def scripted_failure(status: int) -> RequestError:
    """The error a ``[fail=STATUS]`` directive produces."""
    err_type = _ERROR_TYPES.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    return RequestError(
        f"The scripted model returned a scripted failure {status} "
        f"because the last user message contains [fail={status}].",
        status=status,
        err_type=err_type,
        code="scripted_failure",
    )


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat-completions body the double acts on; the rest is ignored."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool
    include_usage: bool


def parse_chat_request(raw: bytes) -> tuple[ChatRequest | None, Any]:
    """Parse the body; return the request (or None if unusable) and the raw ``messages``.

    The raw messages are returned even for bad bodies so the request log can show what the
    client actually sent.
    """
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None, messages
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    model = body.get("model")
    return (
        ChatRequest(
            model=model if isinstance(model, str) and model else "scripted",
            messages=messages,
            stream=body.get("stream") is True,
            include_usage=include_usage,
        ),
        messages,
    )


def invalid_body_error(messages: Any) -> RequestError:
    """The 400 for a body that is not JSON or carries no usable ``messages`` list."""
    if messages is None:
        return RequestError(
            "We could not parse the JSON body of your request, or it has no 'messages'. "
            "Expected a JSON object with a non-empty 'messages' list.",
            param="messages",
        )
    return RequestError("'messages' must be a non-empty list of message objects.", param="messages")


def validate_messages(messages: list[Any]) -> None:
    """Raise :class:`RequestError` for malformed messages or unanswered/orphan tool calls."""
    open_ids: set[str] = set()  # ids of the assistant tool_calls block we are inside, if any
    missing: list[str] = []  # ids of that block still waiting for a tool message
    opened_at = -1
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(
                f"messages[{index}] must be an object with a 'role'.", param=f"messages.[{index}]"
            )
        if message["role"] == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_ids:
                raise RequestError(
                    _ORPHAN_TOOL_MESSAGE.format(call_id=call_id),
                    param=f"messages.[{index}].role",
                )
            if call_id in missing:
                missing.remove(call_id)
            continue
        _raise_if_dangling(missing, opened_at)
        ids = _tool_call_ids(message, index)
        open_ids, missing, opened_at = set(ids), list(ids), index
    _raise_if_dangling(missing, opened_at)


def _raise_if_dangling(missing: list[str], opened_at: int) -> None:
    if missing:
        raise RequestError(
            _DANGLING_TOOL_CALLS.format(ids=", ".join(missing)),
            param=f"messages.[{opened_at}].role",
        )


def _tool_call_ids(message: dict[str, Any], index: int) -> list[str]:
    """Ids of an assistant message's tool calls (empty for every other message)."""
    calls = message.get("tool_calls") if message["role"] == "assistant" else None
    if not calls:
        return []
    if not isinstance(calls, list):
        raise RequestError("'tool_calls' must be a list.", param=f"messages.[{index}].tool_calls")
    ids = [call.get("id") if isinstance(call, dict) else None for call in calls]
    if not all(isinstance(call_id, str) and call_id for call_id in ids):
        raise RequestError(
            "Every entry of 'tool_calls' needs a non-empty string 'id'.",
            param=f"messages.[{index}].tool_calls",
        )
    return [str(call_id) for call_id in ids]


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """A deterministic stand-in for tokenisation (~4 characters per token, min 1 per message)."""
    return sum(max(1, len(message_text(message.get("content"))) // 4) for message in messages)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def tool_call(call_id: str, tool: ToolDirective, index: int | None = None) -> dict[str, Any]:
    """A tool call as OpenAI sends it; ``index`` is only present in streamed deltas."""
    call: dict[str, Any] = {
        "id": call_id,
        "type": "function",
        "function": {"name": tool.name, "arguments": json.dumps(tool.args)},
    }
    return call if index is None else {"index": index, **call}


def chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` with a single choice."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def usage_chunk(
    completion_id: str, created: int, model: str, token_usage: dict[str, int]
) -> dict[str, Any]:
    """The trailing chunk sent when ``stream_options.include_usage`` is true."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": token_usage,
    }


def completion(
    completion_id: str,
    created: int,
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    token_usage: dict[str, int],
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": token_usage,
    }


def sse(payload: dict[str, Any]) -> bytes:
    """Frame one server-sent event the way OpenAI does (a single ``data:`` line)."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
