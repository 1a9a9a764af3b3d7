"""Thread and run records: who owns a thread, its metadata, and each run's request and end.

Temporal decides (the thread workflow admits and orders runs, the turn workflow ends them);
these rows are what the API lists and searches. The API writes a run's row when Temporal
has accepted it; the turn's first activity writes `running` (and the whole row, if the API
never got to), its last activity the terminal status, once: the first writer wins.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.contracts import RunStatus, StopRequest, TurnOutcome

TERMINAL_STATUSES: frozenset[str] = frozenset({"success", "error", "timeout", "interrupted"})
ACTIVE_STATUSES: frozenset[str] = frozenset({"pending", "running"})


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, kw_only=True)
class ThreadRecord:
    thread_id: str
    owner: str
    """The user who created the thread; nobody else can see or change it."""
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(default_factory=dict)
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    """Pending interrupts (a tool waiting for approval): the thread is `interrupted`."""


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    run_id: str
    thread_id: str
    assistant_id: str
    user_id: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(default_factory=dict)
    multitask_strategy: str = "enqueue"
    kwargs: dict[str, Any] = field(default_factory=dict)
    """input (normalised messages), stream_mode, stream_resumable, on_disconnect, config."""
    status: RunStatus = "pending"
    outcome: dict[str, Any] | None = None
    stop: dict[str, Any] | None = None
    """The first stop asked for this run (a run is stopped once)."""
    workflow_id: str = ""
    """The turn workflow that runs it."""

    @property
    def input_messages(self) -> list[dict[str, Any]]:
        return list((self.kwargs.get("input") or {}).get("messages", []))

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def paused(self) -> bool:
        """It ended waiting for a person's decision; its turn still waits (durably)."""
        return not self.active and (self.outcome or {}).get("outcome") == "paused"

    @property
    def turn_outcome(self) -> TurnOutcome | None:
        return outcome_from_dict(self.outcome)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def outcome_to_dict(outcome: TurnOutcome | None) -> dict[str, Any] | None:
    return dataclasses.asdict(outcome) if outcome is not None else None


def outcome_from_dict(data: dict[str, Any] | None) -> TurnOutcome | None:
    """Rebuild a recorded outcome; unknown keys (from a newer writer) are dropped."""
    if not data:
        return None
    names = {f.name for f in dataclasses.fields(TurnOutcome)}
    values = {k: v for k, v in data.items() if k in names}
    if isinstance(values.get("stop"), dict):
        values["stop"] = StopRequest(**values["stop"])
    return TurnOutcome(**values)
