"""What the API remembers about threads and runs (the run store's rows).

Temporal is the source of truth for a started run; the record holds what Temporal does not
know (thread metadata, enqueued runs that never started) plus a write-once cache of the
terminal status, so finished runs are answered without a Temporal round trip.
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
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(default_factory=dict)


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
    started: bool = False
    """True once the turn workflow exists in Temporal."""
    status: RunStatus | None = None
    """Cached terminal status; None while the run may still change."""
    outcome: dict[str, Any] | None = None

    @property
    def input_messages(self) -> list[dict[str, Any]]:
        return list(self.kwargs.get("input", {}).get("messages", []))


@dataclass(frozen=True, kw_only=True)
class RunView:
    """A run with its current status, resolved from the cache or from Temporal."""

    record: RunRecord
    status: RunStatus
    outcome: TurnOutcome | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def outcome_to_dict(outcome: TurnOutcome | None) -> dict[str, Any] | None:
    return dataclasses.asdict(outcome) if outcome is not None else None


def outcome_from_dict(data: dict[str, Any] | None) -> TurnOutcome | None:
    """Rebuild a cached outcome; unknown keys (from a newer writer) are dropped."""
    if not data:
        return None
    names = {f.name for f in dataclasses.fields(TurnOutcome)}
    values = {k: v for k, v in data.items() if k in names}
    if isinstance(values.get("stop"), dict):
        values["stop"] = StopRequest(**values["stop"])
    return TurnOutcome(**values)
