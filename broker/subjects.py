"""Subject names: which NATS subjects carry a run's events and its stop notices.

Events live on ``<prefix>.events.<run_id>`` and the stream captures ``<prefix>.events.*``;
stop notices use ``<prefix>.stop.<run_id>``, outside the stream, so they are never stored
and never replayed to a late subscriber.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RUN_ID = re.compile(r"[A-Za-z0-9_-]+")
# Subject tokens may not be empty and may not hold wildcards or whitespace.
_PREFIX_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def validate_run_id(run_id: str) -> str:
    """A run id becomes one subject token: anything else could address other runs."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError(
            f"run id {run_id!r} is not a safe subject token (letters, digits, '-', '_')"
        )
    return run_id


@dataclass(frozen=True, slots=True)
class Subjects:
    prefix: str

    def __post_init__(self) -> None:
        if not all(_PREFIX_TOKEN.fullmatch(token) for token in self.prefix.split(".")):
            raise ValueError(
                f"subject prefix {self.prefix!r} must be dot-separated tokens of letters, "
                "digits, '-' and '_'"
            )

    @property
    def all_events(self) -> str:
        """What the stream captures: every run's events and nothing else."""
        return f"{self.prefix}.events.*"

    @property
    def all_stops(self) -> str:
        return f"{self.prefix}.stop.*"

    def events(self, run_id: str) -> str:
        return f"{self.prefix}.events.{validate_run_id(run_id)}"

    def stop(self, run_id: str) -> str:
        return f"{self.prefix}.stop.{validate_run_id(run_id)}"

    def run_id_of_stop(self, subject: str) -> str:
        return subject.rpartition(".")[2]


def stream_sequence(ack_reply: str) -> int:
    """The stream sequence of a pushed JetStream message, read from its ack subject.

    ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>``
    (9 tokens); the newer form adds a domain and an account hash after ``ACK`` (and a
    trailing token). Cheaper than ``Msg.metadata``, which also builds a datetime."""
    tokens = ack_reply.split(".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])
