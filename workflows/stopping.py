"""The signal, inside a turn, that it was stopped."""

from __future__ import annotations


class TurnStopped(Exception):
    """The turn was stopped: ends the graph run; the workflow then keeps or rolls back."""
