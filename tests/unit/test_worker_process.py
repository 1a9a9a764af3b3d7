"""Process-wide settings the worker applies at start-up (worker/__main__.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from core.settings import load_settings
from worker.__main__ import share_the_gil


@pytest.fixture
def restored_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_worker_hands_the_gil_over_at_the_configured_interval(
    restored_switch_interval: None,
) -> None:
    share_the_gil(load_settings(worker={"gil_switch_interval_ms": 2.5}))

    assert sys.getswitchinterval() == pytest.approx(0.0025)


def test_the_default_interval_is_shorter_than_pythons_own() -> None:
    assert load_settings().worker.gil_switch_interval_ms < 5.0


def test_a_switch_interval_of_zero_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="gil_switch_interval_ms"):
        load_settings(worker={"gil_switch_interval_ms": 0})
