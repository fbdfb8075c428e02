"""Accounts: registration, login, sessions, block lists, mute and ban.

One `Accounts` per node (and one per CLI run). All state is in Redis
(`chatserver.broker.accounts`), so a logout, a ban or a block made on one
node holds on every node at once; the node-local part is only the set of
open connections, reached through control messages on the broker's control
channel. Password hashing (argon2id) runs in a worker thread: it is slow on
purpose and must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from chatserver.broker import Broker, BrokerUnavailable
from chatserver.broker.accounts import AccountStore
from chatserver.config import Config
from chatserver.protocol import CLOSE_BANNED, CLOSE_NORMAL
from chatserver.sessions import GuestSessions, new_token, token_digest
from rooms.identity import AGE_BANDS, ROLES, Identity

if TYPE_CHECKING:
    from chatserver.hub import Hub

log = logging.getLogger("chatserver.accounts")

HANDLE_RE = re.compile(r"^[A-Za-z0-9_-]{3,24}$")
PASSWORD_MIN = 8
PASSWORD_MAX = 256
CTL_CLOSE = "acct.close"
CTL_BLOCKS = "acct.blocks"


class AccountError(Exception):
    """A refused account operation: protocol code, HTTP status, message."""

    def __init__(self, code: str, status: int, message: str,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.retry_after = retry_after


# -- pure checks ------------------------------------------------------------
def handle_error(handle: Any) -> str | None:
    """Why `handle` cannot be registered, or None."""
    if not isinstance(handle, str) or not HANDLE_RE.match(handle):
        return "handle must be 3 to 24 letters, digits, '_' or '-'"
    return None


def password_error(password: Any) -> str | None:
    if not isinstance(password, str):
        return "password must be a string"
    if len(password) < PASSWORD_MIN:
        return f"password must be at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"password must be at most {PASSWORD_MAX} characters"
    return None


def age_band_error(band: Any) -> str | None:
    if band not in AGE_BANDS:
        return f"age_band must be one of {', '.join(AGE_BANDS)}"
    return None


def throttle_scopes(handle: str, address: str | None) -> list[str]:
    """The counters one login attempt is charged to: the handle and the address."""
    scopes = ["h:" + handle.lower()[:64]]
    if address:
        scopes.append("a:" + address[:64])
    return scopes


def identity_from_fields(fields: dict[str, str]) -> Identity | None:
    """The Identity stored in a user hash (None for a damaged record)."""
    try:
        badges = tuple(b for b in fields.get("badges", "").split(",") if b)
        return Identity(user_id=fields["id"], handle=fields["handle"], role=fields["role"],
                        age_band=fields.get("age_band") or None, badges=badges)
    except (KeyError, ValueError):
        return None


def public_user(fields: dict[str, str]) -> dict[str, Any]:
    """An account as `chatserver users list` shows it: no hash, no secrets."""
    return {"id": fields.get("id"), "handle": fields.get("handle"), "role": fields.get("role"),
            "age_band": fields.get("age_band") or None,
            "created_at": int(fields.get("created_at", "0") or 0)}


@dataclass(frozen=True, slots=True)
class Login:
    """A new session: who, and the token (shown once, stored only as its hash)."""

    identity: Identity
    token: str


class Accounts:
    """Account operations other code calls; see docs/accounts.md."""

    def __init__(self, config: Config, broker: Broker,
                 guests: GuestSessions | None = None) -> None:
        self.config = config
        self.broker = broker
        self.store = AccountStore(broker)
        self.guests = guests
        auth = config.auth
        self.hasher = PasswordHasher(time_cost=auth.argon2_time_cost,
                                     memory_cost=auth.argon2_memory_cost,
                                     parallelism=auth.argon2_parallelism, type=Type.ID)
        self._dummy_hash: str | None = None
        self.hub: Hub | None = None

    # -- wiring -------------------------------------------------------------
    def install(self, hub: Hub) -> None:
        """Let control messages reach this node's connections."""
        self.hub = hub
        hub.control_handlers[CTL_CLOSE] = self._on_close
        hub.control_handlers[CTL_BLOCKS] = self._on_blocks

    def _on_close(self, body: dict[str, Any]) -> None:
        if self.hub is None:
            return
        code = int(body.get("code", CLOSE_NORMAL))
        for conn in self.hub.user_connections(str(body.get("uid", ""))):
            conn.abort(code, str(body.get("reason", ""))[:120])

    def _on_blocks(self, body: dict[str, Any]) -> None:
        if self.hub is None:
            return
        handles = {str(h) for h in body.get("handles", [])}
        for conn in self.hub.user_connections(str(body.get("uid", ""))):
            conn.blocked = set(handles)

    async def close_connections(self, user_id: str, code: int, reason: str) -> None:
        """Close every open connection of the user, on every node."""
        await self.broker.publish(None, CTL_CLOSE, {"uid": user_id, "code": code,
                                                    "reason": reason})

    # -- passwords ----------------------------------------------------------
    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify(self, stored: str | None, password: str) -> bool:
        """Check a password; with no stored hash, burn the same time on a dummy one."""
        if stored is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
            stored = self._dummy_hash

        def check() -> bool:
            try:
                return bool(self.hasher.verify(stored, password))
            except (VerificationError, InvalidHashError):
                return False

        ok = await asyncio.to_thread(check)
        return ok and stored is not self._dummy_hash

    # -- registration and login ---------------------------------------------
    async def create_user(self, handle: str, password: str, age_band: str,
                          role: str = "peer") -> Identity:
        """Store a new account (no session): registration and `chatserver users add`."""
        for problem in (handle_error(handle), password_error(password), age_band_error(age_band)):
            if problem is not None:
                raise AccountError("bad_request", 400, problem)
        if role not in ROLES or role == "guest":
            raise AccountError("bad_request", 400,
                               f"role must be one of {', '.join(r for r in ROLES if r != 'guest')}")
        identity = Identity(user_id="u:" + secrets.token_hex(12), handle=handle, role=role,
                            age_band=age_band)
        hashed = await self._hash(password)
        created = await self.store.create_user(identity.user_id, {
            "handle": handle, "handle_lc": handle.lower(), "role": role, "age_band": age_band,
            "badges": "", "hash": hashed, "created_at": str(int(time.time() * 1000))})
        if not created:
            raise AccountError("conflict", 409, "that handle is taken")
        return identity

    async def register(self, handle: str, password: str, age_band: str) -> Login:
        identity = await self.create_user(handle, password, age_band)
        return Login(identity, await self._new_session(identity.user_id))

    async def _new_session(self, user_id: str) -> str:
        token = new_token()
        await self.store.create_session(token_digest(token), user_id,
                                        self.config.auth.session_ttl)
        return token

    async def login(self, handle: str, password: str, address: str | None) -> Login:
        """Check a password; the same error for an unknown handle and a wrong password."""
        if not isinstance(handle, str) or not isinstance(password, str) \
                or len(password) > PASSWORD_MAX or len(handle) > 64:
            raise AccountError("unauthorized", 401, "wrong handle or password")
        auth = self.config.auth
        scopes = throttle_scopes(handle, address)
        wait = await self.store.throttled_for(scopes, auth.login_attempts)
        if wait > 0:
            raise AccountError("rate_limited", 429, "too many failed logins; try again later",
                               retry_after=wait)
        fields = await self._fields_by_handle(handle)
        stored = fields.get("hash") if fields is not None else None
        if not await self._verify(stored, password) or fields is None:
            await self.store.record_failure(scopes, auth.login_window)
            raise AccountError("unauthorized", 401, "wrong handle or password")
        identity = identity_from_fields(fields)
        if identity is None:
            raise AccountError("unauthorized", 401, "wrong handle or password")
        await self.store.clear_failures(scopes[:1])
        if stored is not None and self.hasher.check_needs_rehash(stored):
            await self.store.set_fields(identity.user_id, {"hash": await self._hash(password)})
        return Login(identity, await self._new_session(identity.user_id))

    async def logout(self, token: str) -> None:
        """Revoke one session token at once (every node reads sessions from Redis)."""
        await self.store.revoke_session(token_digest(token))

    async def resolve_session(self, token: str) -> Identity | None:
        """The account behind a session token, sliding its expiry; None if not valid."""
        if not token or len(token) > 512:
            return None
        fields = await self.store.resolve_session(token_digest(token),
                                                  self.config.auth.session_ttl)
        return None if fields is None else identity_from_fields(fields)

    async def delete_account(self, identity: Identity, password: str) -> None:
        """Erase the account: record, sessions, block list, and its messages."""
        fields = await self.store.user(identity.user_id)
        if fields is None:
            raise AccountError("unauthorized", 401, "no such account")
        scopes = throttle_scopes(fields["handle"], None)
        wait = await self.store.throttled_for(scopes, self.config.auth.login_attempts)
        if wait > 0:
            raise AccountError("rate_limited", 429, "too many wrong passwords; try again later",
                               retry_after=wait)
        if not isinstance(password, str) or not await self._verify(fields.get("hash"), password):
            await self.store.record_failure(scopes, self.config.auth.login_window)
            raise AccountError("forbidden", 403, "wrong password")
        await self.erase(identity.user_id)

    async def erase(self, user_id: str) -> int:
        """Delete an account and retract its messages (no password: admin tools, tests).

        Returns how many messages were removed from history.
        """
        fields = await self.store.user(user_id)
        handle_lc = (fields or {}).get("handle_lc", "")
        await self.store.delete_user(user_id, handle_lc)
        try:  # close first so nothing more is sent ...
            await self.close_connections(user_id, CLOSE_NORMAL, "account deleted")
        except BrokerUnavailable:
            log.warning("could not close a deleted account's connections")
        removed = await self._retract_sent(user_id)
        await asyncio.sleep(0.2)  # ... then sweep again for a send that raced the close
        removed += await self._retract_sent(user_id)
        log.info("account deleted", extra={"messages": removed})
        return removed

    async def _retract_sent(self, user_id: str) -> int:
        removed = 0
        for room, mid in await self.store.take_sent_index(user_id):
            if await self.broker.hide(room, mid):
                removed += 1
        return removed

    # -- lookups and roles --------------------------------------------------
    async def _fields_by_handle(self, handle: str) -> dict[str, str] | None:
        uid = await self.store.user_id_for(handle.lower())
        return None if uid is None else await self.store.user(uid)

    async def get_user(self, user_id: str) -> Identity | None:
        fields = await self.store.user(user_id)
        return None if fields is None else identity_from_fields(fields)

    async def find_user(self, handle: str) -> Identity | None:
        """An account, or else a live guest, by handle (case-insensitive)."""
        if not handle or len(handle) > 64:
            return None
        fields = await self._fields_by_handle(handle)
        if fields is not None:
            return identity_from_fields(fields)
        if self.guests is not None:
            return await self.guests.find(handle)
        return None

    async def set_role(self, handle: str, role: str) -> Identity:
        """Change an account's role; it applies from the user's next `hello`."""
        if role not in ROLES or role == "guest":
            raise AccountError("bad_request", 400, f"unknown role {role!r}")
        fields = await self._fields_by_handle(handle)
        if fields is None:
            raise AccountError("not_found", 404, f"no account {handle!r}")
        await self.store.set_fields(fields["id"], {"role": role})
        fields["role"] = role
        identity = identity_from_fields(fields)
        assert identity is not None
        return identity

    async def list_users(self) -> list[dict[str, Any]]:
        out = []
        for uid in await self.store.user_ids():
            fields = await self.store.user(uid)
            if fields is not None:
                out.append(public_user(fields))
        return out

    # -- block lists --------------------------------------------------------
    async def blocked_handles(self, user_id: str) -> set[str]:
        """Lower-cased handles the user blocked (loaded at `hello`)."""
        return await self.store.blocked(user_id)

    async def set_blocked(self, who: Identity, handle: str, blocked: bool) -> set[str]:
        """Block or unblock `handle` for `who` and tell every node's connections of `who`."""
        ttl = self.config.auth.guest_ttl if who.is_guest else None
        handles = await self.store.set_blocked(who.user_id, handle.lower(), blocked, ttl)
        await self.broker.publish(None, CTL_BLOCKS, {"uid": who.user_id,
                                                     "handles": sorted(handles)})
        return handles

    # -- enforcement ----------------------------------------------------------
    async def mute(self, user_id: str, minutes: float | None, reason: str = "") -> None:
        """Mute for `minutes` (None: until unmuted); SEND refuses while the key exists."""
        ttl_ms = None if minutes is None else max(1, int(minutes * 60_000))
        await self.store.set_flag("mute", user_id, json.dumps(
            {"reason": reason, "at": int(time.time() * 1000)}), ttl_ms)

    async def unmute(self, user_id: str) -> bool:
        return await self.store.clear_flag("mute", user_id)

    async def muted_for(self, user_id: str) -> float | None:
        """None when not muted; else seconds left (math.inf for an indefinite mute)."""
        flag = await self.store.get_flag("mute", user_id)
        if flag is None:
            return None
        return float("inf") if flag[1] < 0 else flag[1] / 1000

    async def ban(self, user_id: str, reason: str) -> None:
        """Ban: `hello` fails with `banned`, open connections close with 1008 everywhere."""
        await self.store.set_flag("ban", user_id, json.dumps(
            {"reason": reason, "at": int(time.time() * 1000)}), None)
        await self.close_connections(user_id, CLOSE_BANNED, "banned")

    async def unban(self, user_id: str) -> bool:
        return await self.store.clear_flag("ban", user_id)

    async def is_banned(self, user_id: str) -> bool:
        return await self.store.get_flag("ban", user_id) is not None
