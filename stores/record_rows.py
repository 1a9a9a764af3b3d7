"""Rows of the records tables and the records they hold: JSON columns in, dataclasses out."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Row

from stores.records import RunRecord, ThreadRecord


def _json_or_none(text: str | None) -> Any:
    return json.loads(text) if text else None


def thread_from_row(row: Row[Any]) -> ThreadRecord:
    return ThreadRecord(
        thread_id=row.thread_id,
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
        metadata=json.loads(row.metadata),
        interrupts=json.loads(row.interrupts or "[]"),
    )


def run_from_row(row: Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        thread_id=row.thread_id,
        assistant_id=row.assistant_id,
        user_id=row.user_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        metadata=json.loads(row.metadata),
        multitask_strategy=row.multitask_strategy,
        kwargs=json.loads(row.kwargs),
        status=row.status,
        outcome=_json_or_none(row.outcome),
        stop=_json_or_none(row.stop),
        workflow_id=row.workflow_id,
    )


def run_to_row(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "user_id": run.user_id,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "metadata": json.dumps(run.metadata),
        "multitask_strategy": run.multitask_strategy,
        "kwargs": json.dumps(run.kwargs),
        "status": run.status,
        "outcome": json.dumps(run.outcome) if run.outcome is not None else None,
        "stop": json.dumps(run.stop) if run.stop is not None else None,
        "workflow_id": run.workflow_id,
    }
