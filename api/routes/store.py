"""The store API (`/store/items`, `/store/items/search`, `/store/namespaces`), as
langgraph-sdk's `client.store` calls it, private to each user: every namespace is kept under
the caller's user id, which never shows in answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import Field, StringConstraints

from api.deps import CallerDep, KvStoreDep
from api.errors import InvalidInputError
from api.openapi import errors
from api.schemas import _Body

router = APIRouter(prefix="/store", tags=["store"])
Label = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^.]+$")]


class ItemPut(_Body):
    namespace: list[Label] = Field(min_length=1, max_length=16)
    key: str = Field(min_length=1, max_length=1024)
    value: dict[str, Any]
    index: bool | list[str] | None = None
    ttl: float | None = None


class ItemRef(_Body):
    namespace: list[Label] = Field(min_length=1, max_length=16)
    key: str = Field(min_length=1, max_length=1024)


class ItemSearch(_Body):
    namespace_prefix: list[Label] = Field(default_factory=list, max_length=16)
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    query: str | None = None


class NamespaceSearch(_Body):
    prefix: list[Label] | None = None
    suffix: list[Label] | None = None
    max_depth: int | None = Field(default=None, ge=1, le=16)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


def _mine(owner: str, namespace: list[str]) -> tuple[str, ...]:
    return (owner, *namespace)


def _item_json(item: Any) -> dict[str, Any]:
    return {
        "namespace": list(item.namespace[1:]),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }


@router.put("/items", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 413, 422))
async def put_item(body: ItemPut, store: KvStoreDep, caller: CallerDep) -> Response:
    index: list[str] | None = body.index if isinstance(body.index, list) else None
    if body.index is False:  # not indexed for semantic search
        await store.aput(_mine(caller, body.namespace), body.key, body.value, index=False)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    await store.aput(_mine(caller, body.namespace), body.key, body.value, index=index)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/items", responses=errors(401, 422))
async def get_item(
    store: KvStoreDep,
    caller: CallerDep,
    key: Annotated[str, Query(min_length=1, max_length=1024)],
    namespace: Annotated[str, Query(min_length=1, max_length=4096)],
) -> dict[str, Any] | None:
    """The item, or `null` when there is none (as the Agent Server answers, and what
    langgraph-sdk's get_item expects); another user's item is just as absent."""
    labels = namespace.split(".")
    if any(not label for label in labels):
        raise InvalidInputError("namespace must be labels joined by '.', none of them empty")
    item = await store.aget(_mine(caller, labels), key)
    return _item_json(item) if item is not None else None


@router.delete("/items", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 413, 422))
async def delete_item(body: ItemRef, store: KvStoreDep, caller: CallerDep) -> Response:
    await store.adelete(_mine(caller, body.namespace), body.key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/items/search", responses=errors(401, 413, 422))
async def search_items(body: ItemSearch, store: KvStoreDep, caller: CallerDep) -> dict[str, Any]:
    items = await store.asearch(
        _mine(caller, body.namespace_prefix), filter=body.filter, limit=body.limit,
        offset=body.offset, query=body.query,
    )  # fmt: skip
    return {"items": [_item_json(item) for item in items]}


@router.post("/namespaces", responses=errors(401, 413, 422))
async def list_namespaces(
    body: NamespaceSearch, store: KvStoreDep, caller: CallerDep
) -> dict[str, Any]:
    found = await store.alist_namespaces(
        prefix=_mine(caller, body.prefix or []),
        suffix=tuple(body.suffix) if body.suffix else None,
        max_depth=(body.max_depth + 1) if body.max_depth else None,
        limit=body.limit, offset=body.offset,
    )  # fmt: skip
    return {"namespaces": [list(namespace[1:]) for namespace in found]}
