"""A run that answers a paused turn: is there anything to answer, and does the answer fit?

Checked here, before anything starts, so a wrong answer is a 4xx with the reason, not a
turn that fails after it resumed."""

from __future__ import annotations

from typing import Any

from api.errors import ConflictError, InvalidInputError
from core.contracts import END_TURN
from stores.records import ThreadRecord


def check_resume(thread: ThreadRecord, value: Any, by_command: bool) -> None:
    if not thread.interrupts:
        if by_command:
            raise ConflictError(
                f"Thread {thread.thread_id} has no pending interrupt: there is nothing to "
                "resume. Send input.messages to start a turn."
            )
        raise InvalidInputError(
            'input.messages must be a non-empty list, e.g. {"messages": '
            '[{"role": "user", "content": "hello"}]}'
        )
    if value == END_TURN:  # ends the wait: no decisions to check
        return
    for pending in thread.interrupts:
        requests = (
            (pending.get("value") or {}).get("action_requests")
            if isinstance(pending.get("value"), dict)
            else None
        )
        if requests is not None:
            _check_decisions(value, len(requests))


def _check_decisions(value: Any, expected: int) -> None:
    decisions = value.get("decisions") if isinstance(value, dict) else None
    if not isinstance(decisions, list) or len(decisions) != expected:
        raise InvalidInputError(
            f'command.resume must be {{"decisions": [...]}} with {expected} decision(s), one '
            "per pending tool call, in order: approve, edit, reject or respond"
        )
    for index, decision in enumerate(decisions):
        kind = decision.get("type") if isinstance(decision, dict) else None
        if kind not in ("approve", "edit", "reject", "respond"):
            raise InvalidInputError(
                f"command.resume.decisions[{index}].type must be approve, edit, reject or "
                f"respond, got {kind!r}"
            )
        if kind == "edit" and not isinstance(
            (decision.get("edited_action") or {}).get("args"), dict
        ):
            raise InvalidInputError(
                f"command.resume.decisions[{index}].edited_action.args must be an object"
            )
