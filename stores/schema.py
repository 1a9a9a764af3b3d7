"""The records database's tables (SQLAlchemy Core), the same on SQLite and Postgres.

JSON columns are TEXT holding JSON: portable, and nothing filters inside them in SQL.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, String, Table, Text

METADATA = MetaData()

threads = Table(
    "threads",
    METADATA,
    Column("thread_id", String(128), primary_key=True),
    Column("owner", String(256), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("metadata", Text, nullable=False, default="{}"),
    Column("interrupts", Text, nullable=False, default="[]"),
    Index("threads_by_owner", "owner", "created_at"),
)

runs = Table(
    "runs",
    METADATA,
    Column("run_id", String(64), primary_key=True),
    Column("thread_id", String(128), nullable=False),
    Column("assistant_id", String(128), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("metadata", Text, nullable=False, default="{}"),
    Column("multitask_strategy", String(16), nullable=False),
    Column("kwargs", Text, nullable=False, default="{}"),
    Column("status", String(16), nullable=False),
    Column("outcome", Text, nullable=True),
    Column("stop", Text, nullable=True),
    Column("workflow_id", String(256), nullable=False, default=""),
    Index("runs_by_thread", "thread_id", "created_at"),
    Index("runs_by_status", "status"),
)
