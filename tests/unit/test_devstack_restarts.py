"""The dev stack's crash-loop guard: replace deployed workers at once, back off failed
starts, give up on a crash loop."""

from __future__ import annotations

from devstack.restarts import CrashLoopGuard, RestartPolicy

POLICY = RestartPolicy(
    fast_exit_seconds=5, first_delay_seconds=0.5, max_delay_seconds=2, max_fast_failures=4
)


def test_a_worker_that_ran_a_while_is_replaced_at_once() -> None:
    guard = CrashLoopGuard(POLICY)
    assert [guard.delay_before_restart(60) for _ in range(10)] == [0.0] * 10


def test_failed_starts_back_off_then_give_up() -> None:
    guard = CrashLoopGuard(POLICY)
    delays = [guard.delay_before_restart(0.1) for _ in range(4)]
    assert delays == [0.5, 1.0, 2.0, None]


def test_a_worker_that_lived_resets_the_count_of_failed_starts() -> None:
    guard = CrashLoopGuard(POLICY)
    assert guard.delay_before_restart(1) == 0.5
    assert guard.delay_before_restart(1) == 1.0
    assert guard.delay_before_restart(30) == 0.0
    assert guard.delay_before_restart(1) == 0.5
