"""Thread state in Postgres (store.backend: postgres): a real, throwaway PostgreSQL cluster,
and a turn whose messages the worker commits there and the next turn reads back."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.scripted_model.runner import RunningScriptedModel
from stores.thread_store import open_thread_store
from tests.support import running_rig

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_settings(settings: Settings, postgres_url: str) -> Settings:
    store = settings.store.model_copy(update={"backend": "postgres", "postgres_url": postgres_url})
    return settings.model_copy(update={"store": store})


async def test_turns_commit_to_and_read_from_postgres(
    dev_server: WorkflowEnvironment,
    pg_settings: Settings,
    scripted_model: RunningScriptedModel,
    marker: str,
) -> None:
    thread = str(uuid.uuid4())
    async with running_rig(dev_server.client, pg_settings, scripted_model) as rig:
        for text in (f"[tokens=3] one {marker}", f"[tokens=3] two {marker}"):
            await (await rig.start(text, thread_id=thread)).result()
    async with open_thread_store(pg_settings) as store:  # a fresh connection: really stored
        messages = await store.messages(thread)
    assert [m["type"] for m in messages] == ["human", "ai", "human", "ai"]
    second_call = scripted_model.request_log.snapshot(contains=marker)[-1]
    assert [m["role"] for m in second_call["messages"]][-3:] == ["user", "assistant", "user"]
