"""Who is calling: turning a request into a user id, and refusing to run without one.

An authenticator is any callable `(request) -> user id` (sync or async) that raises
`AuthenticationFailed` for a request it does not accept, like the Agent Server's `@auth`
hook. Built in:
- API keys (`api.api_keys` / `CHATSTOP_API_KEYS="key1:alice,key2:bob"`), sent as
  `Authorization: Bearer <key>` or `x-api-key: <key>` (what langgraph-sdk sends);
- open access, for local development only: the caller is the `x-user-id` header or
  "anonymous".
Plug in your own with `api.authenticator: "my_package.auth:verify"` (e.g. to verify your
company's JWTs); it replaces the keys. The user id it returns owns the threads it creates.
"""

from __future__ import annotations

import hmac
import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from core.settings import Settings

Authenticator = Callable[[Request], "Awaitable[str] | str"]

MAX_USER_ID = 256
DEV_KEY_PREFIX = "dev-"
MIN_PRODUCTION_KEY_LENGTH = 24


class AuthenticationFailed(Exception):
    """The request carries no credential, or one nobody issued; the message says which."""


class UnsafeConfiguration(Exception):
    """The API would run without real credentials outside development."""


@dataclass(frozen=True)
class ApiKeys:
    keys: dict[str, str]

    def __call__(self, request: Request) -> str:
        key = presented_key(request)
        if not key:
            raise AuthenticationFailed(
                "Missing credentials: send Authorization: Bearer <key> or x-api-key: <key>"
            )
        # Compare against every key in constant time, so timing does not reveal a prefix.
        user = None
        for known, user_id in self.keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                user = user_id
        if user is None:
            raise AuthenticationFailed("Unknown API key")
        return user


def presented_key(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def open_access(request: Request) -> str:
    """Development without keys: whoever the caller says they are."""
    return request.headers.get("x-user-id") or "anonymous"


def load_authenticator(ref: str) -> Authenticator:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise UnsafeConfiguration(f"api.authenticator {ref!r} must look like 'module:function'")
    target = getattr(importlib.import_module(module_name), attr)
    if not callable(target):
        raise UnsafeConfiguration(f"api.authenticator {ref} is not callable")
    return target


def build_authenticator(settings: Settings) -> Authenticator:
    """The configured authenticator; refuses unsafe set-ups outside development."""
    check_credentials(settings)
    if settings.api.authenticator:
        return load_authenticator(settings.api.authenticator)
    if settings.api.api_keys:
        return ApiKeys(dict(settings.api.api_keys))
    return open_access


def authentication_mode(settings: Settings) -> str:
    """One line for the start-up banner and log."""
    if settings.api.authenticator:
        return f"custom authenticator {settings.api.authenticator}"
    if settings.api.api_keys:
        return f"API keys ({len(settings.api.api_keys)} configured)"
    return "OFF (open development access; set CHATSTOP_API_KEYS=key:user to turn it on)"


def is_development_key(key: str) -> bool:
    return key.startswith(DEV_KEY_PREFIX) or len(key) < MIN_PRODUCTION_KEY_LENGTH


def check_credentials(settings: Settings) -> None:
    if settings.api.environment != "production":
        return
    if not settings.api.authenticator and not settings.api.api_keys:
        raise UnsafeConfiguration(
            "api.environment is production but no API keys or authenticator are configured; "
            "set CHATSTOP_API_KEYS=key:user or api.authenticator"
        )
    weak = [user for key, user in settings.api.api_keys.items() if is_development_key(key)]
    if weak:
        raise UnsafeConfiguration(
            f"api.environment is production but the keys of {', '.join(sorted(weak))} are "
            f"development keys (prefix {DEV_KEY_PREFIX!r} or shorter than "
            f"{MIN_PRODUCTION_KEY_LENGTH} characters); issue real ones"
        )


async def authenticate(authenticator: Authenticator, request: Request) -> str:
    """Run the authenticator; its answer must be a usable user id."""
    user = authenticator(request)
    if inspect.isawaitable(user):
        user = await user
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_ID:
        raise AuthenticationFailed("The authenticator returned no usable user id")
    return user
