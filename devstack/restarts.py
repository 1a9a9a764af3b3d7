"""When the dev stack replaces a worker that exited, and when it gives up.

A worker that exits is replaced at once: that is a rolling deploy rehearsed by hand
(``kill -INT <worker pid>``), and Temporal hands the running turns to the new worker. A
worker that keeps dying right after it started is a crash loop instead (a syntax error, a
bad setting): restarts back off, and after a few in a row the stack stops with an error
rather than spinning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class RestartPolicy:
    fast_exit_seconds: float = 5.0
    """A worker that dies sooner than this after starting counts as a failed start."""
    first_delay_seconds: float = 0.5
    """Pause before restarting after the first failed start; it doubles with each one."""
    max_delay_seconds: float = 8.0
    max_fast_failures: int = 5
    """Failed starts in a row before the stack gives up."""


class CrashLoopGuard:
    """Counts failed starts in a row; any worker that lived long enough resets the count."""

    def __init__(self, policy: RestartPolicy) -> None:
        self._policy = policy
        self.fast_failures = 0

    def delay_before_restart(self, lived_seconds: float) -> float | None:
        """Seconds to wait before starting the next worker, or None to give up."""
        policy = self._policy
        if lived_seconds >= policy.fast_exit_seconds:
            self.fast_failures = 0
            return 0.0
        self.fast_failures += 1
        if self.fast_failures >= policy.max_fast_failures:
            return None
        delay = policy.first_delay_seconds * 2 ** (self.fast_failures - 1)
        return min(policy.max_delay_seconds, delay)
