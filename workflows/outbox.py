"""The turn's outbox: live events the workflow produces, waiting for an activity to carry them.

A workflow cannot talk to the broker, and an activity per event would cost a Temporal action
each. So structural events (updates, values, tasks, ...) ride along with the next activity
the turn runs anyway: the model call, a tool call, a compensation or the finish. That
activity publishes them first, under `<run>:o<seq>` ids the broker deduplicates, so order
holds (no `values` before the tokens of the message it shows, no `end` before either) and
parallel or retried activities never publish one twice.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.live import OutboxEvent


class Outbox:
    def __init__(self) -> None:
        self._pending: list[OutboxEvent] = []
        self._next_seq = 1

    def add(self, kind: str, body: Any) -> None:
        self._pending.append(OutboxEvent(seq=self._next_seq, kind=kind, body=body))
        self._next_seq += 1

    def pending(self) -> list[OutboxEvent]:
        """Everything not yet known to be published, for the next activity to carry."""
        return list(self._pending)

    def delivered(self, events: list[OutboxEvent]) -> None:
        """An activity that carried `events` returned: they are on the broker."""
        if events:
            last = events[-1].seq
            self._pending = [event for event in self._pending if event.seq > last]
