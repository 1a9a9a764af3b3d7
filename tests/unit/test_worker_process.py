"""Process-wide settings the worker applies at start-up (worker/__main__.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

import worker.__main__ as worker_main
from core.settings import load_settings


@pytest.fixture
def restored_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_worker_hands_the_gil_over_at_the_configured_interval(
    restored_switch_interval: None,
) -> None:
    worker_main.share_the_gil(load_settings(worker={"gil_switch_interval_ms": 2.5}))

    assert sys.getswitchinterval() == pytest.approx(0.0025)


class _StopAtConnect(Exception):
    """Ends the worker's start-up where it would reach for Temporal."""


def test_the_worker_entry_point_applies_the_interval_before_it_connects(
    restored_switch_interval: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.setswitchinterval(0.005)  # Python's own default

    async def connect(_settings: object) -> None:
        raise _StopAtConnect

    monkeypatch.setenv("CHATSTOP_WORKER__GIL_SWITCH_INTERVAL_MS", "1.5")
    monkeypatch.setattr(worker_main, "connect", connect)
    with pytest.raises(_StopAtConnect):
        asyncio.run(worker_main.main())

    assert sys.getswitchinterval() == pytest.approx(0.0015)


def test_a_switch_interval_of_zero_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="gil_switch_interval_ms"):
        load_settings(worker={"gil_switch_interval_ms": 0})
