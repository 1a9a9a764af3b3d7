"""Every thread is private to its owner, tried as a hostile user would: with two API keys,
nothing of alice's is visible, changeable or stoppable by bob, on any route.

The route walk reads the app's own OpenAPI schema, so a route added later is checked too:
without a key it must answer 401, and with bob's key on alice's thread or run it must answer
404, exactly as if the thread did not exist. A new route with a request body needs an example
body below, or the walk fails and says so.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from temporalio.common import SearchAttributeKey

from core.contracts import SA_STOPPED_BY, SA_USER_ID, turn_workflow_id
from tests.stack import Stack, another_api

pytestmark = pytest.mark.e2e

ALICE, BOB = "alice-key-0123456789abcdef", "bob-key-0123456789abcdef"
KEYS = {ALICE: "alice", BOB: "bob"}
PUBLIC = {"/ok", "/healthz"}
"""Routes in the schema that need no key: liveness only."""

EXAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("post", "/threads"): {},
    ("post", "/threads/search"): {},
    ("post", "/assistants/search"): {},
    ("post", "/threads/{thread_id}/runs"): {"assistant_id": "agent", "input": {"messages": ["x"]}},
    ("post", "/threads/{thread_id}/runs/stream"): {
        "assistant_id": "agent",
        "input": {"messages": ["x"]},
    },
    ("post", "/threads/{thread_id}/runs/wait"): {
        "assistant_id": "agent",
        "input": {"messages": ["x"]},
    },
    ("post", "/threads/{thread_id}/runs/{run_id}/cancel"): {},
    ("post", "/runs/cancel"): {"status": "all"},
    ("post", "/threads/{thread_id}/state"): {"values": {}},
    ("post", "/threads/{thread_id}/state/checkpoint"): {"checkpoint": {"checkpoint_id": "x"}},
    ("post", "/threads/{thread_id}/history"): {},
    ("post", "/threads/{thread_id}/copy"): {},
    ("patch", "/threads/{thread_id}"): {"metadata": {"taken": True}},
    ("post", "/runs"): {"assistant_id": "agent", "input": {"messages": ["x"]}},
    ("post", "/runs/stream"): {"assistant_id": "agent", "input": {"messages": ["x"]}},
    ("post", "/runs/wait"): {"assistant_id": "agent", "input": {"messages": ["x"]}},
    ("put", "/store/items"): {"namespace": ["notes"], "key": "k", "value": {"v": 1}},
    ("post", "/store/items/search"): {},
    ("post", "/store/namespaces"): {},
}


@dataclass
class Alice:
    thread_id: str
    run_id: str
    messages: list[dict[str, Any]]
    checkpoint_id: str


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest_asyncio.fixture(scope="module")
async def keyed(stack: Stack) -> AsyncIterator[str]:
    async with another_api(stack, api={"api_keys": KEYS}) as url:
        yield url


@pytest_asyncio.fixture
async def alice(keyed: str, marker: str) -> Alice:
    client = get_client(url=keyed, api_key=ALICE)
    thread = await client.threads.create(metadata={"owner_note": marker})
    run = await client.runs.create(thread["thread_id"], "agent", input=_user(f"hi {marker}"))
    await client.runs.join(thread["thread_id"], run["run_id"])
    state: Any = await client.threads.get_state(thread["thread_id"])
    checkpoint = state["checkpoint"]["checkpoint_id"]
    return Alice(thread["thread_id"], run["run_id"], state["values"]["messages"], checkpoint)


def _fill(path: str, alice: Alice) -> str:
    values = {
        "thread_id": alice.thread_id,
        "run_id": alice.run_id,
        "assistant_id": "agent",
        "checkpoint_id": alice.checkpoint_id,
    }
    filled = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), path)
    assert "{" not in filled, f"no example value for a parameter of {path}; add one to _fill"
    return filled


async def _routes(url: str) -> list[tuple[str, str]]:
    async with httpx.AsyncClient(base_url=url) as http:
        schema = (await http.get("/openapi.json")).json()
    return [(method, path) for path, item in schema["paths"].items() for method in item]


async def _call(url: str, method: str, path: str, body: Any, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        kwargs = {"json": body} if body is not None else {}
        return await http.request(method.upper(), path, **kwargs)


async def test_every_route_needs_a_key_and_hides_other_users_threads(
    keyed: str, alice: Alice
) -> None:
    routes = await _routes(keyed)
    assert ("get", "/threads/{thread_id}") in routes  # the walk sees the real schema
    for method, template in routes:
        path = _fill(template, alice)
        body = EXAMPLE_BODIES.get((method, template))
        if method in ("post", "put", "patch") and (method, template) not in EXAMPLE_BODIES:
            pytest.fail(f"add an example body for {method.upper()} {template} to this test")
        anonymous = await _call(keyed, method, path, body, key=None)
        if template in PUBLIC:
            assert anonymous.status_code == 200, template
            continue
        assert anonymous.status_code == 401, f"{method.upper()} {template}: {anonymous.text}"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        if "{thread_id}" in template or "{run_id}" in template:
            as_bob = await _call(keyed, method, path, body, key=BOB)
            assert as_bob.status_code == 404, f"{method.upper()} {template}: {as_bob.text}"
            assert as_bob.json()["detail"] == f"Thread {alice.thread_id} not found"

    # Nothing bob tried changed anything of alice's.
    client = get_client(url=keyed, api_key=ALICE)
    state: Any = await client.threads.get_state(alice.thread_id)
    assert state["values"]["messages"] == alice.messages
    assert (await client.runs.get(alice.thread_id, alice.run_id))["status"] == "success"
    assert len(await client.runs.list(alice.thread_id)) == 1


async def test_unknown_or_missing_key_is_401_and_both_header_forms_work(
    keyed: str, alice: Alice
) -> None:
    path = f"/threads/{alice.thread_id}"
    async with httpx.AsyncClient(base_url=keyed) as http:
        unknown = await http.get(path, headers={"x-api-key": "not-a-key"})
        bearer = await http.get(path, headers={"Authorization": f"Bearer {ALICE}"})
        x_api_key = await http.get(path, headers={"x-api-key": ALICE})
        ok = await http.get("/ok")
    assert unknown.status_code == 401 and unknown.json()["detail"] == "Unknown API key"
    assert bearer.status_code == 200 and x_api_key.status_code == 200
    assert ok.status_code == 200


async def test_search_and_list_return_only_the_callers_own(
    keyed: str, alice: Alice, marker: str
) -> None:
    bob = get_client(url=keyed, api_key=BOB)
    own = await bob.threads.create(metadata={"owner_note": marker})

    found = await bob.threads.search(metadata={"owner_note": marker}, limit=100)
    everything = await bob.threads.search(limit=1000)

    assert [t["thread_id"] for t in found] == [own["thread_id"]]
    assert alice.thread_id not in {t["thread_id"] for t in everything}
    assert all(t["values"] in ({"messages": []}, None, {}) for t in found)


async def test_if_exists_never_hands_over_another_users_thread(keyed: str, alice: Alice) -> None:
    body = {"thread_id": alice.thread_id, "if_exists": "do_nothing"}
    response = await _call(keyed, "post", "/threads", body, key=BOB)
    assert response.status_code == 409
    assert "not available" in response.json()["detail"]
    assert "messages" not in response.text


async def test_bulk_cancel_touches_only_the_callers_runs(
    keyed: str, alice: Alice, stack: Stack, marker: str
) -> None:
    client = get_client(url=keyed, api_key=ALICE)
    long = await client.runs.create(
        alice.thread_id, "agent", input=_user(f"[tokens=4000][pace=10] {marker}")
    )
    bob = await _call(keyed, "post", "/runs/cancel", {"status": "all"}, key=BOB)
    assert bob.status_code == 200 and long["run_id"] not in bob.json()["cancelled"]
    assert (await client.runs.get(alice.thread_id, long["run_id"]))["status"] in (
        "pending",
        "running",
    )
    # Alice stops it herself: the record names her as the one who stopped it.
    await client.runs.cancel(alice.thread_id, long["run_id"], wait=True)
    stopped = await client.runs.get(alice.thread_id, long["run_id"])
    assert stopped["status"] == "interrupted"
    description = await stack.client.get_workflow_handle(
        turn_workflow_id(alice.thread_id, long["run_id"])
    ).describe()
    attributes = description.typed_search_attributes
    assert attributes.get(SearchAttributeKey.for_keyword(SA_USER_ID)) == "alice"
    assert attributes.get(SearchAttributeKey.for_keyword(SA_STOPPED_BY)) == "alice"


async def test_client_chosen_thread_ids_are_validated(keyed: str) -> None:
    for bad in ("../../etc/passwd", "a b", "x" * 200, "t:1", "t.1"):
        response = await _call(keyed, "post", "/threads", {"thread_id": bad}, key=ALICE)
        assert response.status_code == 422, bad
        assert "thread_id" in response.json()["detail"]


async def test_deleting_a_thread_deletes_its_messages(keyed: str, marker: str) -> None:
    client = get_client(url=keyed, api_key=ALICE)
    thread_id = f"t-{uuid.uuid4().hex}"
    await client.threads.create(thread_id=thread_id)
    await client.runs.wait(thread_id, "agent", input=_user(f"remember me {marker}"))
    await client.threads.delete(thread_id)

    again = await client.threads.create(thread_id=thread_id)
    state: Any = await client.threads.get_state(thread_id)

    assert again["values"] == {"messages": []}
    assert state["values"] == {"messages": []}


async def test_the_store_is_private_to_each_user(keyed: str, marker: str) -> None:
    alice = get_client(url=keyed, api_key=ALICE)
    bob = get_client(url=keyed, api_key=BOB)
    await alice.store.put_item(["notes", marker], "plan", {"text": "secret"})

    mine = await alice.store.get_item(["notes", marker], "plan")
    found = await bob.store.search_items(["notes", marker])
    spaces = await bob.store.list_namespaces(prefix=["notes"])
    theirs = await _call(keyed, "get", f"/store/items?namespace=notes.{marker}&key=plan", None, BOB)

    assert mine["value"] == {"text": "secret"} and mine["namespace"] == ["notes", marker]
    assert found["items"] == [] and spaces["namespaces"] == []
    assert (theirs.status_code, theirs.json()) == (200, None)  # as for a key nobody wrote
