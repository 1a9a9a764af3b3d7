"""Authentication: keys, the pluggable authenticator, and refusing unsafe production set-ups."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import Request

from api.auth import AuthenticationFailed, UnsafeConfiguration, build_authenticator
from core.settings import REPO_ROOT, load_settings, parse_api_keys
from tests.fixtures.nats import NatsServer
from tests.unit.api_harness import running_api

STRONG = "k" * 32


def company_jwt(request: Request) -> str:
    """What a company's authenticator looks like: request in, user id out (or refuse)."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if not token.startswith("jwt-for-"):
        raise AuthenticationFailed("invalid token")
    return token.removeprefix("jwt-for-")


async def async_authenticator(request: Request) -> str:
    return "async-user"


def test_api_keys_from_the_environment_form() -> None:
    assert parse_api_keys("key1:alice, key2:bob,") == {"key1": "alice", "key2": "bob"}
    with pytest.raises(ValueError, match="key:user"):
        parse_api_keys("justakey")


def test_env_var_adds_keys_to_the_yaml_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATSTOP_API_KEYS", "k1:alice,k2:bob")
    settings = load_settings(api={"api_keys": {"k0": "carol"}})
    assert settings.api.api_keys == {"k0": "carol", "k1": "alice", "k2": "bob"}


def test_production_refuses_to_run_open() -> None:
    settings = load_settings(api={"environment": "production"})
    with pytest.raises(UnsafeConfiguration, match="no API keys or authenticator"):
        build_authenticator(settings)


@pytest.mark.parametrize("key", ["dev-" + "x" * 40, "short-key"])
def test_production_refuses_development_keys(key: str) -> None:
    settings = load_settings(api={"environment": "production", "api_keys": {key: "alice"}})
    with pytest.raises(UnsafeConfiguration, match="alice are development keys"):
        build_authenticator(settings)


def test_production_accepts_real_keys_and_custom_authenticators() -> None:
    build_authenticator(load_settings(api={"environment": "production", "api_keys": {STRONG: "a"}}))
    custom = load_settings(
        api={"environment": "production", "authenticator": "tests.unit.test_auth:company_jwt"}
    )
    assert build_authenticator(custom) is company_jwt


def test_python_m_api_exits_with_the_reason_in_production_without_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSTOP_")}
    env |= {"CHATSTOP_API__ENVIRONMENT": "production", "CHATSTOP_API__PORT": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "api"], cwd=REPO_ROOT, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2
    assert b"refusing to start" in done.stderr and b"no API keys" in done.stderr


JWT = {"authenticator": "tests.unit.test_auth:company_jwt"}


def _as(user: str) -> dict[str, str]:
    return {"authorization": f"Bearer jwt-for-{user}"}


async def test_a_plugged_in_authenticator_decides_the_owner(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    async with running_api(tmp_path, nats_server.url, api=JWT) as api:
        created = await api.http.post("/threads", json={}, headers=_as("ann"))
        thread_id = created.json()["thread_id"]
        mine = await api.http.get(f"/threads/{thread_id}", headers=_as("ann"))
        other = await api.http.get(f"/threads/{thread_id}", headers=_as("ben"))
        refused = await api.http.get(f"/threads/{thread_id}", headers={"authorization": "x"})
    assert created.status_code == 200 and mine.status_code == 200
    assert other.status_code == 404
    assert refused.status_code == 401 and refused.json()["detail"] == "invalid token"


async def test_an_async_authenticator_works_too(tmp_path: Path, nats_server: NatsServer) -> None:
    ref = {"authenticator": "tests.unit.test_auth:async_authenticator"}
    async with running_api(tmp_path, nats_server.url, api=ref) as api:
        created = await api.http.post("/threads", json={})
    assert created.status_code == 200
