"""What the workflows' local activities share: quick store reads and marks that run inside
the workflow task (so they may run twice, which each of them tolerates)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

LOCAL_TIMEOUT = timedelta(seconds=30)
LOCAL_RETRY = RetryPolicy(maximum_attempts=10, maximum_interval=timedelta(seconds=5))
