"""Domain errors of the API's service layer.

Services raise these; app.py maps each class to one HTTP status, so no service knows HTTP
and every failure reaches the client as a JSON `detail` instead of a traceback.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base class: the message is what the client reads as `detail`."""

    @property
    def detail(self) -> str:
        return str(self)


class NotFoundError(ApiError):
    """An unknown thread, run or assistant."""


class ConflictError(ApiError):
    """The request clashes with the current state (busy thread, finished run, duplicate)."""


class InvalidInputError(ApiError):
    """Well-formed JSON that the API cannot act on (no messages, a non-user message)."""


class PayloadTooLargeError(ApiError):
    """The request or its input is over a configured limit (413)."""


class TemporalUnavailableError(ApiError):
    """Temporal could not be reached, so the run's true state is unknown right now."""


class TemporalRequestError(ApiError):
    """Temporal answered, but refused or failed the request."""
