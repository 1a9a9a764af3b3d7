"""What the API and the thread workflow (ChatThread) exchange: run requests and their fate.

The thread workflow is the one place that decides, per thread, which run goes next: one
active turn at a time, a queue for `enqueue`, and the `reject` / `interrupt` / `rollback`
strategies. Any API replica asks it; none decides by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from core.contracts import StopRequest, TurnInput

MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
THREAD_BUSY = "ThreadBusy"
THREAD_CLOSED = "ThreadClosed"
NOTHING_TO_RESUME = "NothingToResume"
REJECT_DETAIL = (
    "Thread is already running a task. Wait for it to finish or choose a different "
    "multitask strategy."
)


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    run_id: str
    turn: TurnInput
    multitask_strategy: MultitaskStrategy = "enqueue"
    summary: str = ""
    """The user's words, shown as the turn's summary in the Temporal Web UI."""
    resume: bool = False
    """The run answers the paused turn (`command: {"resume": resume_value}`)."""
    resume_value: Any = None
    forget_thread_after_seconds: float | None = None
    """A stateless run's own thread: the thread workflow deletes it this long after the run
    ended, unless another run came meanwhile."""


@dataclass(frozen=True, kw_only=True)
class RunAdmission:
    run_id: str
    status: Literal["pending", "running", "ended"]
    workflow_id: str = ""
    """The turn workflow that runs it (the paused turn's, for a resume)."""
    superseded: list[str] = field(default_factory=list)
    """Runs this one stops (interrupt / rollback): the API sends them the stop notice."""
    repeated: bool = False
    """The same run id was submitted before (a retry): nothing new was started."""


@dataclass(frozen=True, kw_only=True)
class RunStop:
    run_id: str
    stop: StopRequest


@dataclass(frozen=True, kw_only=True)
class ThreadState:
    """The thread workflow's input, and what it carries over a continue-as-new."""

    thread_id: str
    owner: str
    recent_runs: dict[str, str] = field(default_factory=dict)
    """run id -> "pending" | "running" | "ended", for the last runs (idempotent submits)."""
    queue: list[RunRequest] = field(default_factory=list)
    stop_grace_seconds: float = 60.0
    turn_check_seconds: float = 120.0


@dataclass(frozen=True, kw_only=True)
class RunEnd:
    """A run that ends without its turn writing the end: dropped from the queue, or whose
    turn had to be terminated."""

    thread_id: str
    run_id: str
    record: dict[str, Any]
    status: str
    outcome: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ForgetThread:
    thread_id: str
    owner: str


@dataclass(frozen=True, kw_only=True)
class TurnEnded:
    """The turn started for `run_id` recorded its end (signal to the thread that follows
    it, from the turn's finish)."""

    run_id: str


@dataclass(frozen=True, kw_only=True)
class TerminateTurn:
    workflow_id: str
    reason: str
