"""Directive parsing and reply planning for the scripted model.

Tests and demos steer the double by embedding bracketed directives in the last user message,
e.g. ``"explain [tokens=200] [pace=5] [tool=search_docs {"query": "temporal"}]"``.  Everything
here is pure (no I/O, no clock) so the reply for a given conversation is fully deterministic.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_TOKENS = 60
DEFAULT_PACE_MS = 20.0
# Guards against a typo like [tokens=6000000] wedging a test run for hours.
MAX_TOKENS = 100_000

# A fixed sentence, cycled word by word, so a streamed answer reads naturally in the demo UI.
_SENTENCE = (
    "This scripted answer streams one token at a time so you can press Stop and watch "
    "the turn end cleanly while Temporal keeps the conversation history durable and "
    "every tool call visible."
)
WORDS: tuple[str, ...] = tuple(_SENTENCE.split())

_DIRECTIVE_START = re.compile(r"\[(tokens|pace|fail|cut_once|stall|tool)=")
_SCALAR_VALUE = re.compile(r"\s*([^\[\]]*?)\s*\]")
# Same constraint OpenAI puts on function names.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_JSON = json.JSONDecoder()


class DirectiveError(ValueError):
    """A directive is present but malformed; surfaced as a 400 so typos fail loudly."""


@dataclass(frozen=True)
class ToolDirective:
    """One ``[tool=NAME {args}]`` directive: a tool call the model should request."""

    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Directives:
    """All directives found in one user message (later scalar directives win)."""

    tokens: int = DEFAULT_TOKENS
    pace_ms: float = DEFAULT_PACE_MS
    fail_status: int | None = None
    cut_once: int | None = None
    """Break the stream after this many tokens, the first time this message is seen."""
    stall: int | None = None
    """After this many tokens, keep the connection open and send nothing more."""
    tools: tuple[ToolDirective, ...] = ()


@dataclass(frozen=True)
class ReplyPlan:
    """What the double will answer, decided before any byte is sent."""

    kind: Literal["text", "tool_calls"]
    tokens: tuple[str, ...]
    tool_calls: tuple[ToolDirective, ...]
    tool_results: int
    pace_s: float
    fail_status: int | None
    cut_once: int | None = None
    stall: int | None = None


def message_text(content: Any) -> str:
    """Flatten OpenAI message content (a string or a list of ``{type: text}`` parts) to text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def parse_directives(text: str) -> Directives:
    """Scan ``text`` for directives; raise :class:`DirectiveError` on a malformed one."""
    scalars: dict[str, str] = {}
    tools: list[ToolDirective] = []
    pos = 0
    while (match := _DIRECTIVE_START.search(text, pos)) is not None:
        kind = match.group(1)
        if kind == "tool":
            tool, pos = _parse_tool(text, match.end())
            tools.append(tool)
            continue
        value = _SCALAR_VALUE.match(text, match.end())
        if value is None:
            raise DirectiveError(f"unterminated [{kind}=...] directive")
        scalars[kind] = value.group(1)
        pos = value.end()
    return Directives(
        tokens=_parse_tokens(scalars["tokens"]) if "tokens" in scalars else DEFAULT_TOKENS,
        pace_ms=_parse_pace(scalars["pace"]) if "pace" in scalars else DEFAULT_PACE_MS,
        fail_status=_parse_fail(scalars["fail"]) if "fail" in scalars else None,
        cut_once=_parse_tokens(scalars["cut_once"]) if "cut_once" in scalars else None,
        stall=_parse_tokens(scalars["stall"]) if "stall" in scalars else None,
        tools=tuple(tools),
    )


def _parse_tool(text: str, pos: int) -> tuple[ToolDirective, int]:
    """Parse ``NAME [json-object]]`` starting at ``pos``; return the directive and end offset."""
    name_match = _TOOL_NAME.match(text, pos)
    if name_match is None:
        raise DirectiveError("[tool=...] needs a name made of letters, digits, '_' or '-'")
    name = name_match.group(0)
    pos = _skip_spaces(text, name_match.end())
    args: dict[str, Any] = {}
    if text.startswith("{", pos):
        # raw_decode, not a regex, because the JSON itself may contain ']' characters.
        try:
            decoded, pos = _JSON.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DirectiveError(f"[tool={name} ...] has invalid JSON args: {exc}") from exc
        if not isinstance(decoded, dict):
            raise DirectiveError(f"[tool={name} ...] args must be a JSON object")
        args = decoded
        pos = _skip_spaces(text, pos)
    if not text.startswith("]", pos):
        raise DirectiveError(f"[tool={name} ...] must end with ']' after the optional args")
    return ToolDirective(name=name, args=args), pos + 1


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _parse_tokens(raw: str) -> int:
    if not raw.isdigit() or int(raw) > MAX_TOKENS:
        raise DirectiveError(f"[tokens={raw}] must be an integer between 0 and {MAX_TOKENS}")
    return int(raw)


def _parse_pace(raw: str) -> float:
    try:
        pace = float(raw)
    except ValueError:
        pace = math.nan
    if not math.isfinite(pace) or pace < 0:
        raise DirectiveError(f"[pace={raw}] must be a non-negative number of milliseconds")
    return pace


def _parse_fail(raw: str) -> int:
    if not raw.isdigit() or not 400 <= int(raw) <= 599:
        raise DirectiveError(f"[fail={raw}] must be an HTTP error status between 400 and 599")
    return int(raw)


def answer_tokens(count: int, tool_results: int) -> tuple[str, ...]:
    """Build the ``count`` content tokens; the first one reports the tool results used, if any."""
    tokens = [f"{WORDS[i % len(WORDS)]} " for i in range(count)]
    if tokens and tool_results:
        # Lets tests (and demo viewers) see that the answer was produced after the tools ran.
        tokens[0] = f"Using {tool_results} tool results: "
    return tuple(tokens)


def plan_reply(messages: list[dict[str, Any]]) -> ReplyPlan:
    """Decide the reply from the last user message and whatever followed it."""
    user_indexes = [i for i, message in enumerate(messages) if message.get("role") == "user"]
    last_user = user_indexes[-1] if user_indexes else -1
    text = message_text(messages[last_user].get("content")) if user_indexes else ""
    directives = parse_directives(text)
    tool_results = sum(1 for message in messages[last_user + 1 :] if message.get("role") == "tool")
    wants_tools = bool(directives.tools) and tool_results == 0
    return ReplyPlan(
        kind="tool_calls" if wants_tools else "text",
        tokens=() if wants_tools else answer_tokens(directives.tokens, tool_results),
        tool_calls=directives.tools if wants_tools else (),
        tool_results=tool_results,
        pace_s=directives.pace_ms / 1000.0,
        fail_status=directives.fail_status,
        cut_once=directives.cut_once,
        stall=directives.stall,
    )
