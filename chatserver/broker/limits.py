"""Connection limits shared by every node, and the Redis memory-policy check.

Each node keeps its own count of open connections per user and per address
in one hash (`conns:<node>`), a mirror of what it holds in memory. A hello
sums that field over the hashes of live nodes (those whose `node:<id>` key
the broker's heartbeat keeps alive), so a node that dies stops counting as
soon as its liveness key expires, and nothing has to clean up after it. The
node rewrites its whole hash whenever a decrement may have been lost (Redis
was down), so counts cannot drift upwards for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from redis.exceptions import RedisError, ResponseError

from chatserver.broker import _REDIS_DOWN, Broker, BrokerUnavailable, _unavailable

log = logging.getLogger("chatserver.limits")

# KEYS: 1 set of node ids with counts, 2 this node's hash
# ARGV: 1 node id, 2 user field, 3 address field, 4 max per user, 5 max per address,
#       6 node-alive key prefix, 7 per-node hash prefix, 8 hash ttl s
ACQUIRE = r"""
redis.call('SADD', KEYS[1], ARGV[1])
local nodes = redis.call('SMEMBERS', KEYS[1])
local u, a = 0, 0
for _, n in ipairs(nodes) do
  if n == ARGV[1] or redis.call('EXISTS', ARGV[6] .. n) == 1 then
    local v = redis.call('HMGET', ARGV[7] .. n, ARGV[2], ARGV[3])
    u = u + (tonumber(v[1]) or 0)
    a = a + (tonumber(v[2]) or 0)
  else
    redis.call('SREM', KEYS[1], n)
    redis.call('DEL', ARGV[7] .. n)
  end
end
if u >= tonumber(ARGV[4]) then return {'user', u} end
if a >= tonumber(ARGV[5]) then return {'address', a} end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('EXPIRE', KEYS[2], ARGV[8])
return {'ok', u + 1}
"""

# KEYS: 1 this node's hash. ARGV: fields to decrement
RELEASE = r"""
for _, f in ipairs(ARGV) do
  if redis.call('HINCRBY', KEYS[1], f, -1) <= 0 then redis.call('HDEL', KEYS[1], f) end
end
return 1
"""

HASH_TTL = 60  # s; refreshed every SYNC_EVERY while the node lives
SYNC_EVERY = 10.0


class ConnectionLimits:
    """Admission of connections per user and per address, across all nodes."""

    def __init__(self, broker: Broker, max_per_user: int, max_per_address: int) -> None:
        self.broker = broker
        self.max_per_user = max_per_user
        self.max_per_address = max_per_address
        self.local: Counter[str] = Counter()
        self.held: dict[str, tuple[str, str]] = {}  # connection id -> its two fields
        self._dirty = True  # first sync writes the (empty) hash: a restarted node id starts clean
        self._version = 0
        self._acquire = broker.redis.register_script(ACQUIRE)
        self._release = broker.redis.register_script(RELEASE)
        self._task: asyncio.Task[None] | None = None
        self._reconnects = broker.reconnects

    @property
    def _hash(self) -> str:
        return self.broker.key("conns", self.broker.node_id)

    @staticmethod
    def fields(user_id: str, address: str) -> tuple[str, str]:
        return "u:" + user_id, "a:" + address

    async def start(self) -> None:
        await self.sync()
        self._task = asyncio.create_task(self._sync_forever(), name="conn-limits-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(*_REDIS_DOWN, RedisError):
            await self.broker.redis.delete(self._hash)

    async def acquire(self, conn_id: str, user_id: str, address: str) -> str | None:
        """Count a new connection; None when admitted, else `user` or `address`."""
        user_field, addr_field = self.fields(user_id, address)
        b = self.broker
        try:
            status, _ = await self._acquire(
                keys=[b.key("conns-nodes"), self._hash],
                args=[b.node_id, user_field, addr_field, self.max_per_user,
                      self.max_per_address, b.key("node", ""), b.key("conns", ""), HASH_TTL])
        except _REDIS_DOWN as exc:
            raise _unavailable(exc) from None
        except RedisError as exc:
            raise BrokerUnavailable(f"redis refused: {type(exc).__name__}") from None
        if status != b"ok":
            return str(status.decode())
        self.local[user_field] += 1
        self.local[addr_field] += 1
        self.held[conn_id] = (user_field, addr_field)
        self._version += 1
        return None

    async def release(self, conn_id: str) -> None:
        """Uncount a closed connection; a lost decrement is repaired by the next sync."""
        fields = self.held.pop(conn_id, None)
        if fields is None:
            return
        for f in fields:
            self.local[f] -= 1
            if self.local[f] <= 0:
                del self.local[f]
        self._version += 1
        try:
            await self._release(keys=[self._hash], args=list(fields))
        except (*_REDIS_DOWN, RedisError):
            self._dirty = True

    async def sync(self) -> None:
        """Rewrite this node's hash from memory when needed; always refresh its TTL."""
        r = self.broker.redis
        if self.broker.reconnects != self._reconnects:  # Redis may have restarted empty
            self._reconnects = self.broker.reconnects
            self._dirty = True
        try:
            if self._dirty:
                version = self._version
                snapshot: dict[Any, Any] = dict(self.local)
                async with r.pipeline(transaction=True) as pipe:
                    pipe.delete(self._hash)
                    if snapshot:
                        pipe.hset(self._hash, mapping=snapshot)
                    pipe.sadd(self.broker.key("conns-nodes"), self.broker.node_id)
                    pipe.expire(self._hash, HASH_TTL)
                    await pipe.execute()
                # an acquire/release that ran meanwhile may not be in the snapshot
                self._dirty = version != self._version
            else:
                await r.expire(self._hash, HASH_TTL)
        except (*_REDIS_DOWN, RedisError):
            self._dirty = True

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(SYNC_EVERY)
            await self.sync()


async def maxmemory_policy(broker: Broker) -> str | None:
    """Redis's maxmemory-policy, or None when CONFIG GET is refused (managed Redis)."""
    try:
        value: dict[Any, Any] = await broker.redis.config_get("maxmemory-policy")
    except ResponseError:
        return None
    except _REDIS_DOWN as exc:
        raise _unavailable(exc) from None
    policy = value.get(b"maxmemory-policy", value.get("maxmemory-policy"))
    if policy is None:
        return None
    return policy.decode() if isinstance(policy, bytes) else str(policy)
