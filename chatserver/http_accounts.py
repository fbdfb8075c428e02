"""HTTP account endpoints: register, login, logout, me (PROTOCOL.md, HTTP).

Thin: parse JSON, check CSRF, call `Accounts`, shape the answer. A session
is the `session` cookie or `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.accounts import AccountError, Accounts, Login
from chatserver.broker import BrokerUnavailable
from chatserver.hello import session_cookie
from chatserver.origin import origin_allowed
from chatserver.proxy import client_address
from chatserver.services import Services
from rooms.identity import Identity

COOKIE = "session"
MAX_BODY = 16384
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error_response(status: int, code: str, message: str,
                   retry_after: float | None = None) -> JSONResponse:
    err: dict[str, Any] = {"code": code, "message": message}
    headers: dict[str, str] = {}
    if retry_after is not None:
        err["retry_after"] = round(retry_after, 3)
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse({"error": err}, status_code=status, headers=headers)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    raw = headers.get("authorization", "")
    scheme, _, value = raw.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def csrf_refused(method: str, headers: Mapping[str, str], allowed: list[str]) -> bool:
    """A state-changing request that carries the cookie from a foreign Origin."""
    if method not in STATE_CHANGING or session_cookie(headers) is None:
        return False
    origin = headers.get("origin")
    return origin is not None and not origin_allowed(origin, headers.get("host"), allowed)


async def read_json(request: Request, *, required: bool = True) -> dict[str, Any]:
    body = await request.body()
    if not body and not required:
        return {}
    if len(body) > MAX_BODY:
        raise AccountError("bad_request", 400, "request body too large")
    try:
        obj = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise AccountError("bad_request", 400, "the body must be JSON") from None
    if not isinstance(obj, dict):
        raise AccountError("bad_request", 400, "the body must be a JSON object")
    return obj


def _str_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise AccountError("bad_request", 400, f"{name} must be a string")
    return value


def _with_cookie(response: Response, services: Services, token: str) -> Response:
    response.set_cookie(COOKIE, token, max_age=services.config.auth.session_ttl, path="/",
                        httponly=True, samesite="lax", secure=services.config.server.secure_cookies)
    return response


def _login_response(services: Services, login: Login, status: int) -> Response:
    return _with_cookie(JSONResponse({"user": login.identity.user_dict(), "token": login.token},
                                     status_code=status), services, login.token)


def _request_token(request: Request) -> str | None:
    return bearer_token(request.headers) or session_cookie(request.headers)


async def _current(accounts: Accounts, request: Request) -> tuple[Identity, str]:
    token = _request_token(request)
    identity = await accounts.resolve_session(token) if token else None
    if identity is None or token is None:
        raise AccountError("unauthorized", 401, "not logged in")
    return identity, token


Endpoint = Callable[[Request, Services, Accounts], Awaitable[Response]]


def endpoint(fn: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Shared checks and error mapping around one account endpoint."""

    async def run(request: Request) -> Response:
        services: Services = request.app.state.services
        accounts: Accounts | None = services.extras.get("accounts")
        if accounts is None:
            return error_response(503, "unavailable", "accounts are not enabled")
        if csrf_refused(request.method, request.headers, services.config.server.allowed_origins):
            return error_response(403, "forbidden", "cross-site request refused")
        try:
            return await fn(request, services, accounts)
        except AccountError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.retry_after)
        except BrokerUnavailable:
            return error_response(503, "unavailable", "the server cannot reach its store")

    return run


@endpoint
async def register(request: Request, services: Services, accounts: Accounts) -> Response:
    body = await read_json(request)
    login = await accounts.register(_str_field(body, "handle"), _str_field(body, "password"),
                                    _str_field(body, "age_band"))
    return _login_response(services, login, 201)


@endpoint
async def login(request: Request, services: Services, accounts: Accounts) -> Response:
    body = await read_json(request)
    address = client_address(request.scope.get("client"), request.headers,
                             services.config.server.trusted_proxies)
    result = await accounts.login(_str_field(body, "handle"), _str_field(body, "password"),
                                  address)
    return _login_response(services, result, 200)


@endpoint
async def logout(request: Request, services: Services, accounts: Accounts) -> Response:
    await read_json(request, required=False)
    token = _request_token(request)
    if token:
        await accounts.logout(token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=services.config.server.secure_cookies)
    return response


@endpoint
async def me(request: Request, services: Services, accounts: Accounts) -> Response:
    if request.method == "DELETE":
        identity, _ = await _current(accounts, request)
        body = await read_json(request)
        await accounts.delete_account(identity, _str_field(body, "password"))
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                               secure=services.config.server.secure_cookies)
        return response
    identity, _ = await _current(accounts, request)
    return JSONResponse({"user": identity.user_dict()})


ACCOUNT_ROUTES = [
    Route("/api/register", register, methods=["POST"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me, methods=["GET", "DELETE"]),
]
