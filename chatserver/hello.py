"""`hello`: resolve the identity of a new connection and describe its session."""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any

from chatserver.connection import Connection
from chatserver.protocol import OpError, Request
from chatserver.services import Services
from moderation.region import language_of, resolve_region
from rooms.identity import Identity


def session_cookie(headers: Mapping[str, str]) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get("session")
    return morsel.value if morsel is not None and morsel.value else None


async def authenticate(s: Services, headers: Mapping[str, str], conn: Connection,
                       req: Request) -> tuple[Identity, dict[str, Any]]:
    """Token, then cookie, then a guest identity where allowed (PROTOCOL.md Session)."""
    cfg = s.config
    token: str | None = req.args.get("token")
    identity: Identity | None = None
    guest_token: str | None = None
    accounts = s.extras.get("accounts")
    for candidate in (token, session_cookie(headers)):
        if not candidate:
            continue
        if accounts is not None:
            identity = await accounts.resolve_session(candidate)
        if identity is None:
            identity = await s.guests.resolve(candidate)
            if identity is not None:
                guest_token = candidate
        if identity is not None:
            break
    if identity is None:
        if token:
            raise OpError("unauthorized", "that token is not valid (it may have expired)")
        if not cfg.auth.allow_guests:
            raise OpError("unauthorized", "log in to chat here")
        guest = req.args.get("guest") or {}
        requested = guest.get("handle") if isinstance(guest.get("handle"), str) else None
        identity, guest_token = await s.guests.create(requested)
    if accounts is not None and await accounts.is_banned(identity.user_id):
        raise OpError("banned", "this account has been banned by the moderators")
    locale = req.args.get("locale")
    accept = headers.get("accept-language")
    conn.region = resolve_region(locale, accept, cfg.moderation.default_region)
    conn.lang = language_of(locale, accept)
    if accounts is not None:
        conn.blocked = await accounts.blocked_handles(identity.user_id)
    result: dict[str, Any] = {
        "user": identity.user_dict(),
        "rooms": cfg.rooms.joinable(identity),
        "heartbeat": cfg.server.heartbeat_interval,
    }
    if guest_token is not None:
        result["token"] = guest_token
    return identity, result
