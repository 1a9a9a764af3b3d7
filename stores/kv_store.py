"""The long-term store (LangGraph's BaseStore) on the thread store's database: SQLite in
development, Postgres in production. The API serves it as the Agent Server's store API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from langgraph.store.base import BaseStore

from core.settings import Settings
from stores.schema_lock import schema_setup_lock


@contextlib.asynccontextmanager
async def open_kv_store(settings: Settings) -> AsyncIterator[BaseStore]:
    if settings.store.backend == "postgres":
        from langgraph.store.postgres.aio import AsyncPostgresStore

        assert settings.store.postgres_url, "store.postgres_url is not set"
        async with AsyncPostgresStore.from_conn_string(settings.store.postgres_url) as store:
            async with schema_setup_lock(settings):
                await store.setup()
            yield store
        return
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    path = settings.data_path(settings.store.sqlite_path)
    async with AsyncSqliteStore.from_conn_string(str(path)) as store:
        async with schema_setup_lock(settings):
            await store.setup()
        yield store
