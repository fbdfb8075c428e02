"""The Redis broker: the only code that talks to Redis.

One `Broker` per node owns two kinds of connection: a command pool (scripts,
streams, keys) and one pub/sub connection that a reader task drains. The
hub above never sees Redis types: it gets envelopes through a callback and
`BrokerUnavailable` when Redis cannot be reached, so it can answer
`unavailable` instead of pretending a message went out.

Envelopes between nodes are msgpack arrays `[version, kind, id, payload]`
where `payload` is itself msgpack (the SEND script wraps the stored body
as it is, so the stream entry and the live envelope carry the same bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatserver.broker import scripts

log = logging.getLogger("chatserver.broker")

ENVELOPE_VERSION = 1
CONTROL_CHANNEL = "ctl"
# Most (room, id) entries kept in one account's sent-message index.
USER_INDEX_CAP = 100_000


class BrokerUnavailable(Exception):
    """Redis could not be reached or did not answer; nothing was done."""


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: str
    id: str
    payload: bytes

    def body(self) -> Any:
        return msgpack.unpackb(self.payload, raw=False)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What SEND did: status `ok` / `dup` (id set), or a refusal with `retry_ms`."""

    status: str
    id: str = ""
    retry_ms: int = 0


def pack_envelope(kind: str, ident: str, payload: Any) -> bytes:
    data = msgpack.packb([ENVELOPE_VERSION, kind, ident,
                          msgpack.packb(payload, use_bin_type=True)], use_bin_type=True)
    assert isinstance(data, bytes)
    return data


def unpack_envelope(data: bytes) -> Envelope | None:
    """Decode an inter-node envelope; None for one we do not understand."""
    try:
        raw = msgpack.unpackb(data, raw=True)
    except Exception:
        return None
    if not isinstance(raw, list) or len(raw) != 4 or raw[0] != ENVELOPE_VERSION:
        return None
    kind, ident, payload = raw[1], raw[2], raw[3]
    if not all(isinstance(x, bytes) for x in (kind, ident, payload)):
        return None
    return Envelope(kind.decode(), ident.decode(), payload)


def _unavailable(exc: BaseException) -> BrokerUnavailable:
    return BrokerUnavailable(f"redis unavailable: {type(exc).__name__}")


_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)

EnvelopeHandler = Callable[[str, Envelope], None]
ResyncHandler = Callable[[str], Awaitable[None]]


class Broker:
    """Redis for one node: commands, scripts, and a self-healing subscription."""

    def __init__(self, url: str, prefix: str, node_id: str,
                 max_connections: int = 64) -> None:
        self.url = url
        self.prefix = prefix
        self.node_id = node_id
        # A blocking pool: under a burst, commands wait for a connection instead of
        # failing at once (redis-py's default pool raises when it is exhausted).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=5.0, decode_responses=False,
            socket_connect_timeout=2.0, socket_timeout=5.0, retry_on_timeout=False,
            retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self.redis: aioredis.Redis = aioredis.Redis(connection_pool=pool)
        self._send = self.redis.register_script(scripts.SEND)
        self._presence = self.redis.register_script(scripts.PRESENCE)
        self._hide = self.redis.register_script(scripts.HIDE)
        self._on_envelope: EnvelopeHandler | None = None
        self._on_resync: ResyncHandler | None = None
        self._wanted: set[str] = set()  # room slugs this node wants
        self._confirmed: dict[str, asyncio.Event] = {}
        self._unsubscribing: dict[str, asyncio.Future[None]] = {}
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self.reconnects = 0

    # -- keys -------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def room_channel(self, room: str) -> str:
        return self.key("room", room)

    @property
    def control_channel(self) -> str:
        return self.key(CONTROL_CHANNEL)

    # -- lifecycle --------------------------------------------------------
    async def start(self, on_envelope: EnvelopeHandler, on_resync: ResyncHandler) -> None:
        """Begin reading pub/sub; returns once connected (or keeps retrying in the background)."""
        self._on_envelope = on_envelope
        self._on_resync = on_resync
        self._reader = asyncio.create_task(self._read_forever(), name="broker-reader")
        self._heartbeat = asyncio.create_task(self._heartbeat_forever(), name="broker-heartbeat")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout=5.0)

    async def close(self) -> None:
        self._closing = True
        for task in (self._reader, self._heartbeat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self.redis.delete(self.key("node", self.node_id))
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    @property
    def ready(self) -> bool:
        """Subscribed and reading: the node can route messages."""
        return self._connected.is_set()

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (*_REDIS_DOWN, RedisError):
            return False

    async def _heartbeat_forever(self) -> None:
        """Keep this node's liveness key so other nodes count its presence."""
        while True:
            with contextlib.suppress(*_REDIS_DOWN, RedisError):
                await self.redis.set(self.key("node", self.node_id), b"1", ex=30)
            await asyncio.sleep(10)

    async def _read_forever(self) -> None:
        delay = 0.1
        first = True
        while not self._closing:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=False)
            self._pubsub = pubsub
            try:
                channels = [self.control_channel, *(self.room_channel(r) for r in self._wanted)]
                await pubsub.subscribe(*channels)
                # Wait for every confirmation before declaring ourselves ready.
                # Live messages that arrive meanwhile wait until the streams have
                # filled the gap, so each room is still delivered in order.
                pending = set(channels)
                early: list[dict[str, Any]] = []
                while pending:
                    msg = await pubsub.get_message(timeout=None)
                    if msg is None:
                        continue
                    if msg["type"] == "subscribe":
                        pending.discard(msg["channel"].decode())
                    else:
                        early.append(msg)
                if not first:
                    self.reconnects += 1
                    log.info("broker resubscribed", extra={"rooms": len(self._wanted)})
                    # Messages published while we were away are in the streams.
                    for room in list(self._wanted):
                        if self._on_resync is not None:
                            await self._on_resync(room)
                for name in channels:
                    self._mark_confirmed(name)
                for msg in early:
                    self._dispatch(msg)
                first = False
                delay = 0.1
                self._connected.set()
                while True:
                    msg = await pubsub.get_message(timeout=None)
                    if msg is not None:
                        self._dispatch(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: drop the connection and start over
                self._connected.clear()
                for ev in self._confirmed.values():
                    ev.clear()
                if self._closing:
                    return
                log.warning("broker subscription lost; reconnecting",
                            extra={"error": type(exc).__name__, "retry_in": round(delay, 2)})
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                # Idle pooled connections died with it: drop them, or each would
                # fail one command (a spurious `unavailable`) once Redis is back.
                with contextlib.suppress(Exception):
                    await self.redis.connection_pool.disconnect(inuse_connections=False)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)

    def _mark_confirmed(self, channel: str) -> None:
        ev = self._confirmed.get(channel)
        if ev is not None:
            ev.set()

    def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "subscribe":
            self._mark_confirmed(msg["channel"].decode())
            return
        if kind == "unsubscribe":
            name = msg["channel"].decode()
            ev = self._confirmed.get(name)
            if ev is not None:
                ev.clear()
            waiter = self._unsubscribing.pop(name, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        if kind != "message":
            return
        env = unpack_envelope(msg["data"])
        if env is None:
            log.warning("dropped an envelope this node cannot read")
            return
        channel: str = msg["channel"].decode()
        if self._on_envelope is not None:
            try:
                self._on_envelope(channel[len(self.prefix):], env)
            except Exception:
                log.exception("envelope handler failed")

    # -- subscriptions ----------------------------------------------------
    async def subscribe(self, room: str) -> None:
        """Subscribe to a room's channel and wait for Redis to confirm it."""
        channel = self.room_channel(room)
        self._wanted.add(room)
        ev = self._confirmed.setdefault(channel, asyncio.Event())
        if ev.is_set():
            return
        if not self._connected.is_set() or self._pubsub is None:
            raise BrokerUnavailable("redis unavailable: not subscribed")
        try:
            await self._pubsub.subscribe(channel)
            await asyncio.wait_for(ev.wait(), timeout=5.0)
        except (*_REDIS_DOWN, RedisError) as exc:
            raise _unavailable(exc) from None

    async def unsubscribe(self, room: str) -> None:
        channel = self.room_channel(room)
        self._wanted.discard(room)
        ev = self._confirmed.pop(channel, None)
        if ev is not None:
            ev.clear()
        if self._pubsub is not None and self._connected.is_set():
            waiter = asyncio.get_running_loop().create_future()
            self._unsubscribing[channel] = waiter
            with contextlib.suppress(*_REDIS_DOWN, RedisError):
                await self._pubsub.unsubscribe(channel)
                # Redis confirms; until then the channel may still deliver to us.
                await asyncio.wait_for(waiter, 2.0)
            self._unsubscribing.pop(channel, None)

    def is_subscribed(self, room: str) -> bool:
        ev = self._confirmed.get(self.room_channel(room))
        return ev is not None and ev.is_set()

    # -- messages ---------------------------------------------------------
    async def send(self, room: str, body: bytes, *, user_id: str, nonce: str | None,
                   is_staff: bool, enforce: bool, rate: float, burst: float, maxlen: int,
                   retention_ms: int, check_only: bool = False,
                   min_slow: float = 0.0) -> SendOutcome:
        """Run SEND: checks, nonce, append and publish as one step.

        With `check_only` (a message about to be held) it runs the same checks and
        spends the same rate token, but appends nothing: status `allowed`.
        `min_slow` is a slow-mode floor (seconds), used while no moderator watches.
        """
        nonce_key = self.key("nonce", room, user_id, nonce) if nonce else ""
        # Accounts ("u:" ids) get a per-user index of what they sent, so deleting
        # the account can retract every message; guests' messages age out instead.
        index_key = self.key("umsgs", user_id) if user_id.startswith("u:") else ""
        keys = [self.key("history", room), nonce_key, self.key("rate", user_id),
                self.key("slow", room, user_id), self.key("mute", user_id),
                self.key("roomcfg", room), index_key]
        args: list[Any] = [body, maxlen, retention_ms, 300, repr(float(rate)),
                           repr(float(burst)), "check" if check_only else "",
                           "1" if is_staff else "0",
                           self.room_channel(room), "1" if enforce else "0", room,
                           USER_INDEX_CAP, repr(float(min_slow))]
        try:
            status, value = await self._send(keys=keys, args=args)
        except (*_REDIS_DOWN,) as exc:
            raise _unavailable(exc) from None
        status = status.decode()
        if status in ("ok", "dup", "allowed"):
            return SendOutcome(status, id=value.decode())
        return SendOutcome(status, retry_ms=int(value))

    async def _xrange(self, coro: Awaitable[Any]) -> list[tuple[str, bytes]]:
        try:
            rows = await coro
        except (*_REDIS_DOWN,) as exc:
            raise _unavailable(exc) from None
        return [(rid.decode(), fields[b"m"]) for rid, fields in rows]

    async def latest(self, room: str, count: int) -> list[tuple[str, bytes]]:
        """The last `count` messages, oldest first."""
        if count <= 0:
            return []
        rows = await self._xrange(self.redis.xrevrange(self.key("history", room), count=count))
        rows.reverse()
        return rows

    async def after(self, room: str, since: str, count: int) -> list[tuple[str, bytes]]:
        """Up to `count` messages strictly after `since`, oldest first."""
        return await self._xrange(
            self.redis.xrange(self.key("history", room), min="(" + since, count=count))

    async def before(self, room: str, before: str, count: int) -> list[tuple[str, bytes]]:
        """Up to `count` messages strictly before `before`, oldest first."""
        rows = await self._xrange(
            self.redis.xrevrange(self.key("history", room), max="(" + before, count=count))
        rows.reverse()
        return rows

    async def get_message(self, room: str, message_id: str) -> bytes | None:
        rows = await self._xrange(
            self.redis.xrange(self.key("history", room), min=message_id, max=message_id,
                              count=1))
        return rows[0][1] if rows else None

    async def first_id(self, room: str) -> str | None:
        rows = await self._xrange(self.redis.xrange(self.key("history", room), count=1))
        return rows[0][0] if rows else None

    async def hide(self, room: str, message_id: str) -> bool:
        """Delete a message from history and retract it on every node."""
        try:
            n = await self._hide(keys=[self.key("history", room)],
                                 args=[message_id, self.room_channel(room),
                                       msgpack.packb({"room": room, "id": message_id})])
        except (*_REDIS_DOWN,) as exc:
            raise _unavailable(exc) from None
        return bool(n)

    async def publish(self, room: str | None, kind: str, payload: Any, ident: str = "") -> None:
        """Publish a transient event (typing, presence, notice, control)."""
        channel = self.room_channel(room) if room is not None else self.control_channel
        try:
            await self.redis.publish(channel, pack_envelope(kind, ident, payload))
        except (*_REDIS_DOWN,) as exc:
            raise _unavailable(exc) from None

    async def presence(self, room: str, local_count: int) -> int:
        """Record this node's member count for `room`; return the count over live nodes."""
        try:
            total = await self._presence(
                keys=[self.key("presence", room)],
                args=[self.node_id, local_count, self.key("node", "")])
        except (*_REDIS_DOWN,) as exc:
            raise _unavailable(exc) from None
        return int(total)

    # -- small key/value helpers used by sessions and settings ------------
    async def kv_get(self, *parts: str) -> bytes | None:
        try:
            value = await self.redis.get(self.key(*parts))
        except (*_REDIS_DOWN,) as exc:
            raise _unavailable(exc) from None
        return value if isinstance(value, bytes) else None

    async def kv_set(self, value: bytes, *parts: str, ttl: int | None = None) -> None:
        try:
            await self.redis.set(self.key(*parts), value, ex=ttl)
        except (*_REDIS_DOWN,) as exc:
            raise _unavailable(exc) from None

    async def kv_touch(self, ttl: int, *parts: str) -> None:
        with contextlib.suppress(*_REDIS_DOWN):
            await self.redis.expire(self.key(*parts), ttl)

    async def kv_delete(self, *parts: str) -> None:
        try:
            await self.redis.delete(self.key(*parts))
        except (*_REDIS_DOWN,) as exc:
            raise _unavailable(exc) from None
