"""What must hold after the scale-out load, checked from outside: the client's streams, the
API's run records and thread states, the scripted model's log and the tool's own table.

Each check returns what it looked at and every violation, named by run, so a failure in
the printed report says exactly what was observed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load_workload import TOOL, LoadRun, ticket_title
from bench.scripted import LogEntry

EXPECTED_OUTCOME = {"interrupt": "interrupted", "rollback": "rolled_back"}
STATUS_OF = {"completed": "success", "interrupted": "interrupted", "rolled_back": "interrupted"}
SHOWN = 8
"""Violations printed per check; the count says how many there were in all."""


@dataclass
class Check:
    name: str
    looked_at: str
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class Evidence:
    """What the checks read once the load is over."""

    statuses: dict[str, str]
    """run marker -> GET /threads/{t}/runs/{r} status."""
    messages: dict[int, list[dict[str, Any]]]
    """thread index -> its messages (GET /threads/{t}/state) right after the load."""
    follow_ups: dict[int, str]
    """thread index -> the status of one more short run on it."""
    calls: dict[str, list[LogEntry]]
    """run marker (follow-up runs too) -> its model calls, in start order."""
    tickets: list[str]
    """Titles of every ticket in the tool's table."""
    closed_at: dict[str, float] = field(default_factory=dict)
    """run marker -> when Temporal closed its turn workflow (stopped runs)."""


def calls_by_run(entries: list[LogEntry], batch: str) -> dict[str, list[LogEntry]]:
    """Model calls grouped by the marker of their last user message (a call's messages
    also hold the thread's earlier turns, whose markers must not claim it)."""
    pattern = re.compile(rf"{re.escape(batch)}-t\d+-(?:r\d+|check)\.")
    grouped: dict[str, list[LogEntry]] = {}
    for entry in entries:
        users = [m for m in entry.get("messages") or [] if m.get("role") == "user"]
        found = pattern.search(str(users[-1].get("content"))) if users else None
        grouped.setdefault(found.group(0) if found else "(no marker)", []).append(entry)
    for calls in grouped.values():
        calls.sort(key=lambda c: c["start"])
    return grouped


def answer_call(calls: list[LogEntry]) -> LogEntry | None:
    """The run's last text answer (a tool run's first call asks for the tool)."""
    return next((c for c in reversed(calls) if c.get("reply") == "text"), None)


def ticket_titles(data_dir: Path) -> list[str]:
    path = data_dir / "tickets.sqlite"
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [row[0] for row in conn.execute("SELECT title FROM tickets")]


def terminal_states(runs: list[LoadRun], ev: Evidence) -> Check:
    check = Check(
        "every run ended in exactly one terminal state",
        f"{len(runs)} runs: GET status success|interrupted, agreeing with the stream's one "
        "`end` (its last event) and with the stop asked for",
    )
    for run in runs:
        check.failures += [f"{run.marker} {why}" for why in _terminal_problems(run, ev)]
    return check


def _terminal_problems(run: LoadRun, ev: Evidence) -> list[str]:
    turn, status = run.turn, ev.statuses.get(run.marker, "(not read)")
    problems = [f"stream error {e[:120]}" for e in turn.errors]
    if turn.timed_out:
        problems.append("stream still open when the client gave up")
    ends = turn.events.count("end")
    if ends != 1 or turn.events[-1:] != ["end"]:
        problems.append(f"{ends} end events; last event {turn.events[-1:]}")
    if status not in ("success", "interrupted"):
        problems.append(f"status {status}")
    if turn.outcome is not None and STATUS_OF.get(turn.outcome) != status:
        problems.append(f"end outcome {turn.outcome} but status {status}")
    wanted = EXPECTED_OUTCOME.get(run.action or "") if run.stop_accepted else "completed"
    if turn.outcome == "completed" and run.stop_accepted:
        problems += _stop_without_effect(run, answer_call(ev.calls.get(run.marker, [])))
    elif turn.outcome != wanted:
        problems.append(f"end outcome {turn.outcome}, expected {wanted} (stop {run.action})")
    return problems


def _stop_without_effect(run: LoadRun, call: LogEntry | None) -> list[str]:
    """An accepted stop may lose a fair race (the answer was over by the time it was
    answered); one the model wrote on after is a stop that did nothing."""
    answered = run.turn.stop_answered_at or 0.0
    if call is None or call["end"] is None or call["end"] <= answered:
        return []
    late = (call["end"] - answered) * 1000
    return [
        f"stop {run.action} at token {run.stop_at} accepted (202) but the run completed: the "
        f"model wrote on to token {call['tokens']}, ending {late:.0f} ms after the stop was "
        f"answered (disconnected={call['disconnected']})"
    ]


def histories(runs: list[LoadRun], ev: Evidence) -> Check:
    check = Check(
        "every thread's history is valid",
        f"{len(ev.messages)} threads: no AI tool call without its tool message, rolled-back "
        "turns gone, kept ones there; one more short run on each must succeed (the scripted "
        "model answers 400 to a dangling tool call)",
    )
    for thread, messages in sorted(ev.messages.items()):
        check.failures += [f"thread {thread}: {why}" for why in _dangling(messages)]
        if ev.follow_ups.get(thread) != "success":
            check.failures.append(f"thread {thread}: follow-up run {ev.follow_ups.get(thread)}")
    for run in runs:
        present = any(run.marker in _text(m) for m in ev.messages.get(run.thread, []))
        if present == (run.turn.outcome == "rolled_back"):
            state = "still in" if present else "missing from"
            check.failures.append(f"{run.marker} ({run.turn.outcome}) {state} the history")
    return check


def _dangling(messages: list[dict[str, Any]]) -> list[str]:
    answered = {m.get("tool_call_id") for m in messages if m.get("type") == "tool"}
    return [
        f"tool call {call.get('id')} ({call.get('name')}) has no tool message"
        for m in messages
        if m.get("type") == "ai"
        for call in m.get("tool_calls") or []
        if call.get("id") not in answered
    ]


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def final_answer(run: LoadRun, messages: list[dict[str, Any]]) -> str | None:
    """The text of the last AI message of the run's turn (from its user message to the
    next one), None if the turn is not in the history."""
    start = next((i for i, m in enumerate(messages) if run.marker in _text(m)), None)
    if start is None:
        return None
    turn: list[dict[str, Any]] = []
    for message in messages[start + 1 :]:
        if message.get("type") == "human":
            break
        turn.append(message)
    answers = [m for m in turn if m.get("type") == "ai"]
    return _text(answers[-1]) if answers else None


def sse_integrity(runs: list[LoadRun], ev: Evidence) -> Check:
    check = Check(
        "no SSE event lost or duplicated",
        f"{len(runs)} resumable streams: every event has an id, ids strictly increasing; "
        "tokens streamed = the model's `tokens` for the answer (a stopped one: at most, as "
        "the stop cuts what is still on its way); streamed text = the final AI message "
        "(completed runs) or the kept one (interrupted runs)",
    )
    for run in runs:
        check.failures += [f"{run.marker} {why}" for why in _stream_problems(run, ev)]
    return check


def _stream_problems(run: LoadRun, ev: Evidence) -> list[str]:
    turn, problems = run.turn, []
    ids = [int(i) for i in turn.event_ids if i.isdigit()]
    if len(ids) != len(turn.events):
        problems.append(f"{len(turn.events) - len(ids)} of {len(turn.events)} events lack an id")
    if any(b <= a for a, b in zip(ids, ids[1:], strict=False)):
        problems.append(f"ids not strictly increasing ({len(ids) - len(set(ids))} repeated)")
    call = answer_call(ev.calls.get(run.marker, []))
    streamed = "".join(text for _, text in turn.texts)
    shown = len(turn.texts)
    if call is None:
        problems.append("no answer call in the model log")
    elif shown > call["tokens"] or (shown < call["tokens"] and turn.outcome == "completed"):
        problems.append(f"streamed {shown} tokens, the model wrote {call['tokens']}")
    if turn.outcome in ("completed", "interrupted"):
        final = final_answer(run, ev.messages.get(run.thread, []))
        if final != streamed:
            problems.append(f"{turn.outcome}: streamed {streamed[-40:]!r} != {_tail(final)}")
    return problems


def _tail(text: str | None) -> str:
    return "no AI message" if text is None else f"{text[-40:]!r} ({len(text)} chars)"


def nothing_after_stops(runs: list[LoadRun], ev: Evidence) -> Check:
    accepted = [r for r in runs if r.stop_accepted]
    tool_runs = [r for r in runs if r.tool]
    check = Check(
        "no model or tool call after an accepted stop",
        f"{len(accepted)} accepted stops (202): no model call for the run starting after "
        f"the stop was answered; {len(tool_runs)} runs calling {TOOL}: rolled back -> its "
        "ticket gone, otherwise exactly one ticket",
    )
    for run in accepted:
        answered = run.turn.stop_answered_at or 0.0
        late = [c for c in ev.calls.get(run.marker, []) if c["start"] > answered]
        if late:
            lag = (late[0]["start"] - answered) * 1000
            check.failures.append(
                f"{run.marker}: {len(late)} model calls after the stop, the first +{lag:.0f} ms"
            )
    titles = ev.tickets
    for run in tool_runs:
        found = titles.count(ticket_title(run.marker))
        wanted = 0 if run.turn.outcome == "rolled_back" else 1
        if found != wanted:
            check.failures.append(f"{run.marker} ({run.turn.outcome}): {found} tickets")
    return check


def enqueue_order(runs: list[LoadRun], ev: Evidence) -> Check:
    by_thread: dict[int, list[LoadRun]] = {}
    for run in runs:
        by_thread.setdefault(run.thread, []).append(run)
    check = Check(
        "enqueued runs ran one after the other",
        f"{len(by_thread)} threads: every model call of a run ended before the next run's "
        "first call started",
    )
    for thread, queue in by_thread.items():
        for first, then in zip(queue, queue[1:], strict=False):
            ends = [c["end"] or float("inf") for c in ev.calls.get(first.marker, [])]
            starts = [c["start"] for c in ev.calls.get(then.marker, [])]
            if ends and starts and max(ends) > min(starts):
                overlap = (max(ends) - min(starts)) * 1000
                check.failures.append(f"thread {thread}: overlapped by {overlap:.0f} ms")
    return check


CHECKS: list[Callable[[list[LoadRun], Evidence], Check]] = [
    terminal_states,
    histories,
    sse_integrity,
    nothing_after_stops,
    enqueue_order,
]
