"""The moderators' audit log, read-only: `GET /api/audit` (admins) and the CLI.

Entries are appended by the moderator desk to a Redis Stream; nothing in the
server edits or deletes them.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.accounts import AccountError, Accounts
from chatserver.broker.moderation import ModerationStore
from chatserver.http_accounts import Endpoint, endpoint, error_response
from chatserver.services import Services

_TEXT_FIELDS = ("actor", "role", "action", "target", "reason")


def decode_entry(rid: str, fields: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": rid}
    for key, value in fields.items():
        if key in _TEXT_FIELDS:
            entry[key] = value
            continue
        try:
            entry[key] = json.loads(value)
        except json.JSONDecodeError:
            entry[key] = value
    return entry


def since_to_stream_id(since: str | None) -> str:
    """`--since` / `?since=`: unix ms, or an ISO 8601 time; '-' (everything) when absent."""
    if not since:
        return "-"
    text = since.strip()
    if text.isdigit():
        return f"{int(text)}-0"
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("since: unix milliseconds or an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return f"{int(when.timestamp() * 1000)}-0"


async def read_entries(store: ModerationStore, since: str = "-",
                       limit: int = 1_000_000) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = since
    while len(out) < limit:
        rows = await store.audit_entries(after, min(1000, limit - len(out)))
        out.extend(decode_entry(rid, fields) for rid, fields in rows)
        if len(rows) < 1000:
            break
        after = "(" + rows[-1][0]
    return out


async def _audit(request: Request, services: Services, accounts: Accounts) -> Response:
    from chatserver.http_accounts import _current

    identity, _ = await _current(accounts, request)
    if identity.role != "admin":
        raise AccountError("forbidden", 403, "admins only")
    desk = services.extras.get("desk")
    if desk is None:
        return error_response(503, "unavailable", "moderation is switched off")
    try:
        since = since_to_stream_id(request.query_params.get("since"))
        limit = int(request.query_params.get("limit", "1000"))
    except ValueError as exc:
        return error_response(400, "bad_request", str(exc))
    entries = await read_entries(desk.store, since, max(1, min(limit, 10_000)))
    return JSONResponse({"entries": entries})


_handler: Endpoint = _audit
AUDIT_ROUTES = [Route("/api/audit", endpoint(_handler), methods=["GET"])]
