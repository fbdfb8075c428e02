"""Accounts, sessions, block lists and enforcement keys in Redis.

Only this package talks to Redis, so the account logic above it
(`chatserver.accounts`) deals in plain strings and dicts. Every key lives
under the broker's prefix:

    user:<uid>         hash: handle, handle_lc, role, age_band, badges, hash, created_at
    handle:<lower>     the user id owning that handle (case-insensitive uniqueness)
    users              set of every account id (for `chatserver users list`)
    sess:<sha256>      user id of a session token; expires after session_ttl idle
    usess:<uid>        set of that user's session digests (to revoke them all)
    blocks:<uid>       set of lower-cased handles the user blocked
    umsgs:<uid>        list of "room id" the account sent (written by SEND)
    mute:<uid>         present while muted (PX = remaining time, none = indefinite)
    ban:<uid>          present while banned; value = JSON {reason, at}
    throttle:login:... failed-login counters, expire after login_window
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatserver.broker import Broker, BrokerUnavailable, scripts

_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


@contextlib.asynccontextmanager
async def _redis_call() -> AsyncIterator[None]:
    try:
        yield
    except _DOWN as exc:
        raise BrokerUnavailable(f"redis unavailable: {type(exc).__name__}") from None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode_hash(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {_text(k): _text(v) for k, v in raw.items()}
    items = list(raw)
    return {_text(items[i]): _text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


class AccountStore:
    """Redis operations behind `chatserver.accounts.Accounts` (one per node)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.redis = broker.redis
        self.key = broker.key
        self._create = self.redis.register_script(scripts.CREATE_USER)
        self._resolve = self.redis.register_script(scripts.RESOLVE_SESSION)
        self._throttle_check = self.redis.register_script(scripts.THROTTLE_CHECK)
        self._throttle_fail = self.redis.register_script(scripts.THROTTLE_FAIL)

    # -- users ------------------------------------------------------------
    async def create_user(self, user_id: str, fields: dict[str, str]) -> bool:
        """Store a new account; False when its handle (any case) is taken."""
        args: list[str] = [user_id]
        for k, v in fields.items():
            args += [k, v]
        async with _redis_call():
            ok = await self._create(
                keys=[self.key("handle", fields["handle_lc"]), self.key("user", user_id),
                      self.key("users")], args=args)
        return bool(ok)

    async def user(self, user_id: str) -> dict[str, str] | None:
        async with _redis_call():
            raw = await self.redis.hgetall(self.key("user", user_id))
        if not raw:
            return None
        out = _decode_hash(raw)
        out["id"] = user_id
        return out

    async def user_id_for(self, handle_lc: str) -> str | None:
        async with _redis_call():
            raw = await self.redis.get(self.key("handle", handle_lc))
        return None if raw is None else _text(raw)

    async def set_fields(self, user_id: str, fields: dict[str, str]) -> None:
        async with _redis_call():
            await self.redis.hset(self.key("user", user_id), mapping=fields)  # type: ignore[arg-type]

    async def user_ids(self) -> list[str]:
        async with _redis_call():
            raw = await self.redis.smembers(self.key("users"))
        return sorted(_text(x) for x in raw)

    async def delete_user(self, user_id: str, handle_lc: str) -> None:
        """Remove the account and everything keyed by it except the message index."""
        async with _redis_call():
            digests = await self.redis.smembers(self.key("usess", user_id))
            async with self.redis.pipeline(transaction=True) as pipe:
                for d in digests:
                    pipe.delete(self.key("sess", _text(d)))
                pipe.delete(self.key("user", user_id), self.key("usess", user_id),
                            self.key("blocks", user_id), self.key("mute", user_id),
                            self.key("ban", user_id), self.key("rate", user_id))
                pipe.srem(self.key("users"), user_id)
                await pipe.execute()
            # Free the handle only if it still names this account.
            owner = await self.redis.get(self.key("handle", handle_lc))
            if owner is not None and _text(owner) == user_id:
                await self.redis.delete(self.key("handle", handle_lc))

    async def take_sent_index(self, user_id: str) -> list[tuple[str, str]]:
        """(room, id) of every indexed message of the user; the index is emptied."""
        key = self.key("umsgs", user_id)
        async with _redis_call(), self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            rows, _ = await pipe.execute()
        out = []
        for row in rows:
            room, _, mid = _text(row).partition(" ")
            if room and mid:
                out.append((room, mid))
        return out

    # -- sessions ---------------------------------------------------------
    async def create_session(self, digest: str, user_id: str, ttl: int) -> None:
        async with _redis_call(), self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key("sess", digest), user_id, ex=ttl)
            pipe.sadd(self.key("usess", user_id), digest)
            pipe.expire(self.key("usess", user_id), ttl)
            await pipe.execute()

    async def resolve_session(self, digest: str, ttl: int) -> dict[str, str] | None:
        """The session's user (hash fields plus `id`), sliding its expiry; None if gone."""
        async with _redis_call():
            raw = await self._resolve(keys=[self.key("sess", digest)],
                                      args=[ttl, self.key("user", ""), self.key("usess", "")])
        return _decode_hash(raw) if raw else None

    async def revoke_session(self, digest: str) -> None:
        async with _redis_call():
            uid = await self.redis.getdel(self.key("sess", digest))
            if uid is not None:
                await self.redis.srem(self.key("usess", _text(uid)), digest)

    # -- block lists ------------------------------------------------------
    async def blocked(self, user_id: str) -> set[str]:
        async with _redis_call():
            raw = await self.redis.smembers(self.key("blocks", user_id))
        return {_text(x) for x in raw}

    async def set_blocked(self, user_id: str, handle_lc: str, blocked: bool,
                          ttl: int | None) -> set[str]:
        """Add or remove one handle; returns the whole list afterwards."""
        key = self.key("blocks", user_id)
        async with _redis_call(), self.redis.pipeline(transaction=True) as pipe:
            if blocked:
                pipe.sadd(key, handle_lc)
            else:
                pipe.srem(key, handle_lc)
            if ttl is not None:
                pipe.expire(key, ttl)
            pipe.smembers(key)
            results = await pipe.execute()
        return {_text(x) for x in results[-1]}

    # -- enforcement ------------------------------------------------------
    async def set_flag(self, kind: str, user_id: str, value: str, ttl_ms: int | None) -> None:
        async with _redis_call():
            await self.redis.set(self.key(kind, user_id), value, px=ttl_ms)

    async def get_flag(self, kind: str, user_id: str) -> tuple[str, int] | None:
        """(value, remaining ms or -1 for no expiry), or None when absent."""
        async with _redis_call(), self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.key(kind, user_id))
            pipe.pttl(self.key(kind, user_id))
            value, ttl = await pipe.execute()
        return None if value is None else (_text(value), int(ttl))

    async def clear_flag(self, kind: str, user_id: str) -> bool:
        async with _redis_call():
            return bool(await self.redis.delete(self.key(kind, user_id)))

    # -- login throttle ---------------------------------------------------
    def _throttle_keys(self, scopes: list[str]) -> list[str]:
        return [self.key("throttle", "login", s) for s in scopes]

    async def throttled_for(self, scopes: list[str], limit: int) -> float:
        """Seconds until the caller may try again (0 = not throttled)."""
        async with _redis_call():
            ms = await self._throttle_check(keys=self._throttle_keys(scopes), args=[limit])
        return int(ms) / 1000

    async def record_failure(self, scopes: list[str], window: int) -> None:
        async with _redis_call():
            await self._throttle_fail(keys=self._throttle_keys(scopes), args=[window])

    async def clear_failures(self, scopes: list[str]) -> None:
        async with _redis_call():
            await self.redis.delete(*self._throttle_keys(scopes))
