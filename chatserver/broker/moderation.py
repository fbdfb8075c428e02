"""Moderation state in Redis: flags, held messages and risk trajectories.

Flags are hashes (`flag:<id>`) for their current state, a sorted set of the
open and claimed ones ordered most severe first then oldest (what
`mod.watch` returns), and a stream `flags:log` of every change (new,
claimed, released, resolved) that the escalation worker reads with a
consumer group. Held messages wait in a per-room hash until a moderator
approves or hides them.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from chatserver.broker import _REDIS_DOWN, Broker, _unavailable

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "imminent": 4}
# score = -(rank * 1e13) + created_ms: ascending order is most severe, then oldest.
_RANK_WEIGHT = 10**13

CLAIM = r"""
-- KEYS: 1 flag hash, 2 queue zset. ARGV: 1 moderator handle, 2 now ms
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found', ''} end
if state == 'resolved' then return {'resolved', ''} end
local holder = redis.call('HGET', KEYS[1], 'claimed_by')
if state == 'claimed' and holder ~= ARGV[1] then return {'conflict', holder} end
redis.call('HSET', KEYS[1], 'state', 'claimed', 'claimed_by', ARGV[1], 'claimed_at', ARGV[2])
return {'ok', ''}
"""

RELEASE = r"""
-- KEYS: 1 flag hash. ARGV: 1 moderator handle ('' = anyone, for timeouts), 2 only-if-claimed-at
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'not_found' end
if state ~= 'claimed' then return 'not_claimed' end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'claimed_by') ~= ARGV[1] then
  return 'conflict'
end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'claimed_at') ~= ARGV[2] then
  return 'stale'
end
redis.call('HSET', KEYS[1], 'state', 'open')
redis.call('HDEL', KEYS[1], 'claimed_by', 'claimed_at')
return 'ok'
"""

RESOLVE = r"""
-- KEYS: 1 flag hash, 2 queue zset. ARGV: 1 moderator, 2 outcome, 3 note, 4 now ms, 5 flag id
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'not_found' end
if state == 'resolved' then return 'resolved' end
if state == 'claimed' and redis.call('HGET', KEYS[1], 'claimed_by') ~= ARGV[1] then
  return 'conflict'
end
redis.call('HSET', KEYS[1], 'state', 'resolved', 'resolved_by', ARGV[1], 'outcome', ARGV[2],
           'note', ARGV[3], 'resolved_at', ARGV[4])
redis.call('HDEL', KEYS[1], 'claimed_by', 'claimed_at')
redis.call('ZREM', KEYS[2], ARGV[5])
return 'ok'
"""

REPORT = r"""
-- Merge reports of one message into one flag. KEYS: 1 index key (room:msg -> flag id),
-- 2 flag hash prefix ('' unused), 3 queue zset. ARGV: 1 new flag id, 2 flag json,
-- 3 score, 4 flag hash key for the new id, 5 ttl s, 6 flag hash key prefix
local existing = redis.call('GET', KEYS[1])
if existing then
  local key = ARGV[6] .. existing
  local state = redis.call('HGET', key, 'state')
  if state and state ~= 'resolved' then
    redis.call('HINCRBY', key, 'reports', 1)
    return {'merged', existing}
  end
end
redis.call('HSET', ARGV[4], 'data', ARGV[2], 'state', 'open', 'reports', 1)
redis.call('EXPIRE', ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[5])
return {'new', ARGV[1]}
"""

FLAG_TTL = 90 * 86400

COUNT = r"""
-- A fixed-window counter (EXPIRE NX needs Redis 7; the embedded Redis is 6.2).
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def now_ms() -> int:
    return int(time.time() * 1000)


class ModerationStore:
    """Redis side of the moderation pipeline and the moderator workflow."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        r = broker.redis
        self._claim = r.register_script(CLAIM)
        self._release = r.register_script(RELEASE)
        self._resolve = r.register_script(RESOLVE)
        self._report = r.register_script(REPORT)
        self._count = r.register_script(COUNT)

    def _k(self, *parts: str) -> str:
        return self.broker.key(*parts)

    async def _run(self, coro: Any) -> Any:
        try:
            return await coro
        except _REDIS_DOWN as exc:
            raise _unavailable(exc) from None

    # -- trajectory -------------------------------------------------------
    async def count_medium(self, user_id: str, window_s: int) -> int:
        """Count this medium signal and return how many fell in the window."""
        n = await self._run(self._count(keys=[self._k("traj", user_id)], args=[window_s]))
        return int(n)

    # -- flags ------------------------------------------------------------
    @staticmethod
    def score(severity: str, created_at: int) -> float:
        return float(-SEVERITY_RANK.get(severity, 1) * _RANK_WEIGHT + created_at)

    async def add_flag(self, flag: dict[str, Any], *, merge_key: str | None = None
                       ) -> tuple[str, bool]:
        """Store a new flag (or merge a report into the open flag of that message).

        Returns (flag id, created).
        """
        flag_id = flag["id"]
        score = self.score(flag["severity"], flag["created_at"])
        data = json.dumps(flag, ensure_ascii=False)
        if merge_key is not None:
            status, ident = await self._run(self._report(
                keys=[self._k("flagidx", merge_key), "", self._k("flags", "queue")],
                args=[flag_id, data, score, self._k("flag", flag_id), FLAG_TTL,
                      self._k("flag", "")]))
            ident = ident.decode()
            created = status == b"new"
        else:
            pipe = self.broker.redis.pipeline(transaction=True)
            pipe.hset(self._k("flag", flag_id), mapping={"data": data, "state": "open",
                                                          "reports": 0})
            pipe.expire(self._k("flag", flag_id), FLAG_TTL)
            pipe.zadd(self._k("flags", "queue"), {flag_id: score})
            await self._run(pipe.execute())
            ident, created = flag_id, True
        await self.log_event(ident, "new" if created else "report")
        return ident, created

    async def log_event(self, flag_id: str, event: str) -> None:
        await self._run(self.broker.redis.xadd(
            self._k("flags", "log"), {"flag": flag_id, "event": event}, maxlen=100000,
            approximate=True))

    async def get_flag(self, flag_id: str) -> dict[str, Any] | None:
        raw = await self._run(self.broker.redis.hgetall(self._k("flag", flag_id)))
        if not raw or b"data" not in raw:
            return None
        flag: dict[str, Any] = json.loads(raw[b"data"])
        flag["state"] = raw.get(b"state", b"open").decode()
        if b"claimed_by" in raw:
            flag["claimed_by"] = raw[b"claimed_by"].decode()
        if b"claimed_at" in raw:
            flag["claimed_at"] = int(raw[b"claimed_at"])
        reports = int(raw.get(b"reports", b"0"))
        if reports:
            flag["reports"] = reports
        for field in (b"outcome", b"note", b"resolved_by"):
            if field in raw:
                flag[field.decode()] = raw[field].decode()
        return flag

    async def queue(self) -> list[dict[str, Any]]:
        """Open and claimed flags, most severe first, then oldest."""
        ids = await self._run(self.broker.redis.zrange(self._k("flags", "queue"), 0, 999))
        out = []
        for raw in ids:
            flag = await self.get_flag(raw.decode())
            if flag is None:
                await self._run(self.broker.redis.zrem(self._k("flags", "queue"), raw))
            elif flag["state"] != "resolved":
                out.append(flag)
        return out

    async def claim(self, flag_id: str, moderator: str) -> tuple[str, str]:
        status, holder = await self._run(self._claim(
            keys=[self._k("flag", flag_id), self._k("flags", "queue")],
            args=[moderator, now_ms()]))
        return status.decode(), holder.decode()

    async def release(self, flag_id: str, moderator: str, claimed_at: str = "") -> str:
        status = await self._run(self._release(keys=[self._k("flag", flag_id)],
                                               args=[moderator, claimed_at]))
        return str(status.decode())

    async def resolve(self, flag_id: str, moderator: str, outcome: str, note: str) -> str:
        status = await self._run(self._resolve(
            keys=[self._k("flag", flag_id), self._k("flags", "queue")],
            args=[moderator, outcome, note, now_ms(), flag_id]))
        return str(status.decode())

    # -- held messages ----------------------------------------------------
    async def hold(self, room: str, body: dict[str, Any], nonce_key: str | None
                   ) -> tuple[str, int, bool]:
        """Keep a message for review. Returns (held id, ts, created); a replayed nonce
        returns the first held id."""
        created_at = now_ms()
        held_id = f"held-{created_at}-{secrets.token_hex(4)}"
        r = self.broker.redis
        if nonce_key is not None:
            ok = await self._run(r.set(self._k("nonce", *nonce_key.split("\x00")), held_id,
                                       nx=True, ex=300))
            if not ok:
                prev = await self._run(r.get(self._k("nonce", *nonce_key.split("\x00"))))
                prev_id = prev.decode() if prev else held_id
                return prev_id, int(prev_id.split("-")[1]) if prev_id.startswith("held-") \
                    else created_at, False
        data = json.dumps({**body, "held_at": created_at}, ensure_ascii=False)
        await self._run(r.hset(self._k("held", room), held_id, data))
        return held_id, created_at, True

    async def take_held(self, room: str, held_id: str) -> dict[str, Any] | None:
        """Remove and return a held message (approve or hide)."""
        r = self.broker.redis
        pipe = r.pipeline(transaction=True)
        pipe.hget(self._k("held", room), held_id)
        pipe.hdel(self._k("held", room), held_id)
        raw, _ = await self._run(pipe.execute())
        return None if raw is None else dict(json.loads(raw))

    async def restore_held(self, room: str, held_id: str, held: dict[str, Any]) -> None:
        """Put a held message back (an approval that could not be published)."""
        await self._run(self.broker.redis.hset(self._k("held", room), held_id,
                                               json.dumps(held, ensure_ascii=False)))

    async def get_held(self, room: str, held_id: str) -> dict[str, Any] | None:
        raw = await self._run(self.broker.redis.hget(self._k("held", room), held_id))
        return None if raw is None else dict(json.loads(raw))

    # -- reports ----------------------------------------------------------
    async def count_report(self, user_id: str, per_hour: int) -> bool:
        """Count one report; False when the user is over `per_hour`."""
        count = await self._run(self._count(keys=[self._k("reports", user_id)], args=[3600]))
        return int(count) <= per_hour

    async def add_report_reason(self, flag_id: str, reason: str) -> None:
        """Reasons are kept with the flag, without who gave them."""
        key = self._k("flag", flag_id, "reasons")
        pipe = self.broker.redis.pipeline(transaction=True)
        pipe.rpush(key, reason)
        pipe.ltrim(key, -20, -1)
        pipe.expire(key, FLAG_TTL)
        await self._run(pipe.execute())

    async def report_reasons(self, flag_id: str) -> list[str]:
        raw = await self._run(self.broker.redis.lrange(self._k("flag", flag_id, "reasons"),
                                                       0, -1))
        return [r.decode() for r in raw]

    # -- escalation, room settings, audit, staffing -----------------------
    async def mark_escalated(self, flag_id: str, how: str) -> bool:
        """Claim the right to escalate a flag once (across nodes)."""
        return bool(await self._run(self.broker.redis.hsetnx(
            self._k("flag", flag_id), "escalated", f"{how}:{now_ms()}")))

    async def set_flag_field(self, flag_id: str, field: str, value: str) -> None:
        await self._run(self.broker.redis.hset(self._k("flag", flag_id), field, value))

    async def room_setting(self, room: str, field: str, value: str | None) -> None:
        key = self._k("roomcfg", room)
        if value is None:
            await self._run(self.broker.redis.hdel(key, field))
        else:
            await self._run(self.broker.redis.hset(key, field, value))

    async def room_settings(self, room: str) -> dict[str, str]:
        raw = await self._run(self.broker.redis.hgetall(self._k("roomcfg", room)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def audit(self, entry: dict[str, Any]) -> str:
        """Append one moderator action to the append-only audit stream."""
        fields: dict[Any, Any] = {k: json.dumps(v) if not isinstance(v, str) else v
                                  for k, v in entry.items() if v is not None}
        rid = await self._run(self.broker.redis.xadd(self._k("audit"), fields))
        return str(rid.decode())

    async def audit_entries(self, after: str = "-", count: int = 1000
                            ) -> list[tuple[str, dict[str, str]]]:
        rows = await self._run(self.broker.redis.xrange(self._k("audit"), min=after,
                                                        count=count))
        return [(rid.decode(), {k.decode(): v.decode() for k, v in f.items()})
                for rid, f in rows]

    async def count_handled(self, moderator: str) -> int:
        return int(await self._run(self.broker.redis.hincrby(
            self._k("modstats", moderator.lower()), "handled", 1)))

    # -- the escalation consumer group ------------------------------------
    ESCALATION_GROUP = "escalation"

    async def ensure_group(self) -> None:
        """Create the consumer group on the flag log (idempotent)."""
        try:
            await self.broker.redis.xgroup_create(self._k("flags", "log"),
                                                  self.ESCALATION_GROUP, id="$",
                                                  mkstream=True)
        except _REDIS_DOWN as exc:
            raise _unavailable(exc) from None
        except Exception as exc:  # BUSYGROUP: another node made it first
            if "BUSYGROUP" not in str(exc):
                raise

    @staticmethod
    def _entries(rows: Any) -> list[tuple[str, str, str]]:
        out = []
        for rid, fields in rows or []:
            if fields:
                out.append((rid.decode(), fields.get(b"flag", b"").decode(),
                            fields.get(b"event", b"").decode()))
        return out

    async def read_group(self, consumer: str, block_ms: int, count: int = 100
                         ) -> list[tuple[str, str, str]]:
        """New flag-log entries for this consumer: (entry id, flag id, event)."""
        res = await self._run(self.broker.redis.xreadgroup(
            self.ESCALATION_GROUP, consumer, {self._k("flags", "log"): ">"}, count=count,
            block=block_ms))
        return self._entries(res[0][1]) if res else []

    async def autoclaim(self, consumer: str, min_idle_ms: int, count: int = 100
                        ) -> list[tuple[str, str, str]]:
        """Take over entries another (perhaps dead) node read but never acknowledged."""
        res = await self._run(self.broker.redis.xautoclaim(
            self._k("flags", "log"), self.ESCALATION_GROUP, consumer, min_idle_ms,
            start_id="0-0", count=count))
        return self._entries(res[1])

    async def ack(self, *entry_ids: str) -> None:
        if entry_ids:
            await self._run(self.broker.redis.xack(self._k("flags", "log"),
                                                   self.ESCALATION_GROUP, *entry_ids))
