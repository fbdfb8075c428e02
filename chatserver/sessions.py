"""Who is on the other end: tokens, cookies and guest identities to an Identity.

Tokens are random (256 bits) and only their SHA-256 is stored, so a Redis
dump does not hand out sessions. Guest tokens let a guest reconnect as the
same identity (a retried `send` with the same nonce publishes once).
"""

from __future__ import annotations

import hashlib
import re
import secrets

import msgpack

from chatserver.broker import Broker
from rooms.identity import Identity

_HANDLE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def guest_handle(requested: str | None) -> str:
    """A guest handle always carries a random suffix, so no one can pose as a member."""
    stem = _HANDLE_CHARS.sub("", requested or "")[:16] or "guest"
    return f"{stem}-{secrets.token_hex(2)}"


def pack_identity(ident: Identity) -> bytes:
    data = msgpack.packb([ident.user_id, ident.handle, ident.role, ident.age_band,
                          list(ident.badges)], use_bin_type=True)
    assert isinstance(data, bytes)
    return data


def unpack_identity(data: bytes) -> Identity | None:
    try:
        uid, handle, role, band, badges = msgpack.unpackb(data, raw=False)
        return Identity(uid, handle, role, band, tuple(badges))
    except Exception:
        return None


class GuestSessions:
    """Guest identities in Redis with a fixed lifetime (`auth.guest_ttl`)."""

    def __init__(self, broker: Broker, ttl: int) -> None:
        self.broker = broker
        self.ttl = ttl

    async def create(self, requested: str | None) -> tuple[Identity, str]:
        ident = Identity(user_id="g:" + secrets.token_hex(12), handle=guest_handle(requested),
                         role="guest")
        token = new_token()
        packed = pack_identity(ident)
        await self.broker.kv_set(packed, "guest", token_digest(token), ttl=self.ttl)
        # So moderators (and blockers) can act on a guest by handle while it lives.
        await self.broker.kv_set(packed, "guesth", ident.handle.lower(), ttl=self.ttl)
        return ident, token

    async def resolve(self, token: str) -> Identity | None:
        data = await self.broker.kv_get("guest", token_digest(token))
        return None if data is None else unpack_identity(data)

    async def find(self, handle: str) -> Identity | None:
        """A live guest by handle (any case), or None."""
        data = await self.broker.kv_get("guesth", handle.lower())
        return None if data is None else unpack_identity(data)
