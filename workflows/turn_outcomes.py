"""How a settled turn is described: to the finish activity, to people reading the Web UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import TurnOutcome


@dataclass
class Settled:
    outcome: TurnOutcome
    commit: list[dict[str, Any]] | None
    """What to commit to the thread; None leaves it exactly as it was (a rollback)."""


def describe_error(err: BaseException) -> str:
    """The activity's own message (e.g. "model endpoint returned HTTP 500: ..."), not the
    generic "Activity task failed" wrapper."""
    cause = getattr(err, "cause", None)
    return str(getattr(cause, "message", None) or err)


def pause_details(pause: Any) -> str:
    """While the turn waits: what for (the Web UI's list shows it)."""
    names = [
        request.get("name", "?")
        for interrupt in pause.interrupts
        if isinstance(interrupt.get("value"), dict)
        for request in interrupt["value"].get("action_requests", [])
    ]
    if names:
        return "waiting for approval of " + ", ".join(names)
    return "waiting for a person (" + ", ".join(pause.next) + ")"


def details_for(outcome: TurnOutcome) -> str:
    """The line the Web UI shows for the turn (its current details) once it has ended."""
    stop = outcome.stop
    who = (
        f"{stop.actor} ({stop.reason})"
        if stop is not None and stop.actor == "chatstop"
        else (stop.actor if stop is not None else "")
    )
    if outcome.outcome == "completed":
        return "completed"
    if outcome.outcome == "interrupted":
        kept = "; ".join(outcome.kept) or "nothing had been produced yet"
        return f"stopped by {who}: kept {kept}"
    if outcome.outcome == "rolled_back":
        undone = len(outcome.undone)
        return f"rolled back by {who}: undid {undone} call{'s' if undone != 1 else ''}"
    if outcome.outcome == "resolved":
        return f"ended: {outcome.error}; the pending calls were not run"
    if outcome.outcome == "approval_expired":
        return f"ended: {outcome.error}; the pending calls were rejected"
    if outcome.outcome == "rollback_failed":
        return f"rollback by {who} failed: {outcome.error}"
    return f"failed: {outcome.error}"
