"""Ids that end up in Temporal workflow ids, broker subjects and file-like keys.

A thread id is chosen by the client, so it is held to a safe alphabet: no separators used by
workflow ids (`:`), broker subjects (`.`, `*`, `>`) or paths (`/`). Run ids are ours: UUIDs.
"""

from __future__ import annotations

import re

THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
RUN_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
THREAD_ID_RULE = "1-128 characters: letters, digits, '-' and '_', starting with a letter or digit"

_THREAD_ID = re.compile(THREAD_ID_PATTERN)
_RUN_ID = re.compile(RUN_ID_PATTERN)


def is_thread_id(value: str) -> bool:
    return bool(_THREAD_ID.match(value))


def is_run_id(value: str) -> bool:
    return bool(_RUN_ID.match(value))
