"""The node's hub: local members per room, subscriptions, and gapless fan-out.

A node subscribes to a room's channel only while it has members there. A
join registers the member first (buffering live messages), waits for the
subscription to be confirmed, reads the stream, replies, then flushes the
buffer past the last id it replied with: subscribe first, read, merge on
ids. Every member has a cursor, so a message reaches it once and in order
whether it came from history, from pub/sub, or from a resync after Redis
came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from chatserver import metrics
from chatserver.broker import Broker, BrokerUnavailable, Envelope
from chatserver.config import Config
from chatserver.connection import Connection
from chatserver.protocol import OpError, Outgoing
from rooms.history import Cursor, StreamPos, decide_recovery, parse_id, pos, ts_of
from rooms.registry import Room, admission_error

log = logging.getLogger("chatserver.hub")
PRESENCE_INTERVAL = 0.5  # seconds over which joins and leaves are coalesced


@dataclass(eq=False)
class Member:
    conn: Connection
    cursor: Cursor = field(default_factory=Cursor)
    # While joining: live frames wait here until the history reply is out.
    pending: list[tuple[StreamPos, Outgoing, str]] | None = field(default_factory=list)


def message_event(room: str, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The protocol `message` object (plus `type`) from a stored body."""
    event: dict[str, Any] = {"type": "message", "room": room, "id": message_id,
                             "ts": ts_of(message_id), "from": body["from"], "text": body["text"]}
    if body.get("cw"):
        event["cw"] = body["cw"]
    return event


def public_message(event: dict[str, Any]) -> dict[str, Any]:
    """A `message` as it appears inside results (no `type`)."""
    return {k: v for k, v in event.items() if k != "type"}


class Hub:
    """Routes room traffic between this node's connections and Redis."""

    def __init__(self, config: Config, broker: Broker) -> None:
        self.config = config
        self.broker = broker
        self.rooms: dict[str, dict[str, Member]] = defaultdict(dict)
        self.connections: dict[str, Connection] = {}
        self.by_user: dict[str, set[Connection]] = defaultdict(set)
        self._sub_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._node_last: dict[str, StreamPos] = {}
        self._presence_sent: dict[str, int] = {}
        self._presence_due: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.control_handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.stats: dict[str, int] = defaultdict(int)
        # True while no moderator watches on any node (the moderator desk sets it).
        self.unstaffed = False
        # Called after a join reply is out (e.g. the "no moderator online" notice).
        self.on_joined: Callable[[Connection, str], None] | None = None
        # Awaited when a connection ends (e.g. a moderator's claims reopen).
        self.on_disconnect: list[Callable[[Connection], Any]] = []

    # -- background tasks -------------------------------------------------
    def spawn(self, coro: Any) -> None:
        """Fire-and-forget work that must not be garbage-collected mid-flight."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        await self.broker.start(self.on_envelope, self.resync)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.broker.close()

    # -- connections ------------------------------------------------------
    def register(self, conn: Connection) -> None:
        self.connections[conn.id] = conn
        conn.on_overflow = self._on_overflow
        if conn.identity is not None:
            self.by_user[conn.identity.user_id].add(conn)

    def _on_overflow(self, conn: Connection) -> None:
        self.stats["slow_consumers"] += 1
        self.spawn(self.disconnect(conn))

    async def disconnect(self, conn: Connection) -> None:
        if self.connections.pop(conn.id, None) is None:
            return
        if conn.identity is not None:
            users = self.by_user.get(conn.identity.user_id)
            if users is not None:
                users.discard(conn)
                if not users:
                    del self.by_user[conn.identity.user_id]
        for slug in list(conn.rooms):
            await self._remove_member(conn, slug)
        for hook in self.on_disconnect:
            with contextlib.suppress(BrokerUnavailable):
                await hook(conn)

    def user_connections(self, user_id: str) -> list[Connection]:
        return list(self.by_user.get(user_id, ()))

    # -- subscriptions ----------------------------------------------------
    async def _ensure_subscribed(self, slug: str) -> None:
        if self.broker.is_subscribed(slug):
            return
        async with self._sub_locks[slug]:
            if not self.broker.is_subscribed(slug):
                await self.broker.subscribe(slug)

    async def _release_subscription(self, slug: str) -> None:
        async with self._sub_locks[slug]:
            if not self.rooms.get(slug):
                self.rooms.pop(slug, None)
                self._node_last.pop(slug, None)
                self._presence_sent.pop(slug, None)
                await self.broker.unsubscribe(slug)

    # -- join / leave -----------------------------------------------------
    def room_or_error(self, slug: str) -> Room:
        room = self.config.rooms.get(slug)
        if room is None:
            raise OpError("not_found", f"no room {slug[:40]!r}")
        return room

    async def join(self, conn: Connection, slug: str, since: str | None,
                   ref: str | None) -> None:
        """Join and reply (the reply is pushed here so the buffered tail follows it)."""
        assert conn.identity is not None
        room = self.room_or_error(slug)
        if admission_error(room, conn.identity) is not None:
            raise OpError("forbidden", f"{room.title} is for another audience")
        since_pos = None
        if since is not None:
            since_pos = parse_id(since)
            if since_pos is None:
                raise OpError("bad_request", "since is not a message id")
        if slug not in conn.rooms and \
                len(conn.rooms) >= self.config.limits.max_rooms_per_connection:
            raise OpError("limit_exceeded", "this connection has joined too many rooms")
        if slug in conn.rooms:  # a re-join starts over from the given `since`
            self.rooms[slug].pop(conn.id, None)
        member = Member(conn)
        self.rooms[slug][conn.id] = member
        conn.rooms.add(slug)
        hist = self.config.history
        try:
            await self._ensure_subscribed(slug)
            recovered = False
            rows: list[tuple[str, bytes]] = []
            if since is not None and since_pos is not None:
                rows = await self.broker.after(slug, since, hist.max_recover + 1)
                first = await self.broker.first_id(slug)
                decision = decide_recovery(since_pos, None if first is None else pos(first),
                                           len(rows), hist.max_recover)
                recovered = decision.recovered
                if not recovered:
                    rows = []
            if not recovered:
                rows = await self.broker.latest(slug, hist.on_join)
            count = await self.broker.presence(slug, len(self.rooms[slug]))
        except BrokerUnavailable:
            if self.rooms[slug].get(conn.id) is member:
                del self.rooms[slug][conn.id]
            conn.rooms.discard(slug)
            self.spawn(self._release_subscription(slug))
            raise OpError("unavailable", "the message broker is unreachable; try again") from None
        if conn.closed or self.rooms[slug].get(conn.id) is not member:
            return
        # From here to the end nothing awaits: reply, then buffered tail, then live.
        messages = []
        for rid, raw in rows:
            body = msgpack.unpackb(raw, raw=False)
            if self._hidden_from(conn, body):
                continue
            messages.append(public_message(message_event(slug, rid, body)))
        if rows:
            member.cursor.last = pos(rows[-1][0])
        elif recovered and since_pos is not None:
            member.cursor.last = since_pos
        conn.push_obj({"type": "reply", "ref": ref, "ok": True, "room": room.public(),
                       "messages": messages, "recovered": recovered,
                       "presence": {"count": count}})
        pending, member.pending = member.pending or [], None
        for position, frame, sender in pending:
            if member.cursor.advance(position) and sender.lower() not in conn.blocked:
                conn.push(frame)
        last = self._node_last.get(slug)
        if last is None or member.cursor.last > last:
            self._node_last[slug] = member.cursor.last
        self.stats["joins"] += 1
        self._schedule_presence(slug)
        if self.on_joined is not None:
            self.on_joined(conn, slug)

    @staticmethod
    def _hidden_from(conn: Connection, body: dict[str, Any]) -> bool:
        sender = body.get("from", {}).get("handle", "")
        return isinstance(sender, str) and sender.lower() in conn.blocked

    async def leave(self, conn: Connection, slug: str) -> None:
        if slug not in conn.rooms:
            raise OpError("not_joined", f"not in room {slug[:40]!r}")
        await self._remove_member(conn, slug)

    async def _remove_member(self, conn: Connection, slug: str) -> None:
        conn.rooms.discard(slug)
        members = self.rooms.get(slug)
        if members is None or members.pop(conn.id, None) is None:
            return
        if members:
            self._schedule_presence(slug)
        else:
            with contextlib.suppress(BrokerUnavailable):
                count = await self.broker.presence(slug, 0)
                await self.broker.publish(slug, "presence", {"room": slug, "count": count})
            await self._release_subscription(slug)

    def _schedule_presence(self, slug: str) -> None:
        """Coalesce presence: one count and one event per room per interval, not per join."""
        if slug in self._presence_due:
            return
        self._presence_due.add(slug)

        # A presence event goes to every member: in a big room, announce less often.
        delay = max(PRESENCE_INTERVAL, len(self.rooms.get(slug, ())) / 1000)

        async def announce() -> None:
            await asyncio.sleep(delay)
            self._presence_due.discard(slug)
            with contextlib.suppress(BrokerUnavailable):
                count = await self.broker.presence(slug, len(self.rooms.get(slug, ())))
                await self.broker.publish(slug, "presence", {"room": slug, "count": count})

        self.spawn(announce())

    # -- inbound from Redis -----------------------------------------------
    def on_envelope(self, channel: str, env: Envelope) -> None:
        if channel.startswith("room:"):
            slug = channel[5:]
            if env.kind == "msg":
                self._deliver(slug, env.id, env.payload)
            elif env.kind == "retract":
                self._fanout(slug, {"type": "retract", "room": slug, "id": env.id})
            elif env.kind == "presence":
                self._on_presence(slug, env.body())
            elif env.kind == "typing":
                self._on_typing(slug, env.body())
            elif env.kind == "notice":
                self._fanout(slug, {"type": "notice", "room": slug, **env.body()})
        else:
            handler = self.control_handlers.get(env.kind)
            if handler is not None:
                handler(env.body())

    def _deliver(self, slug: str, message_id: str, payload: bytes) -> None:
        members = self.rooms.get(slug)
        if not members:
            return
        position = pos(message_id)
        last = self._node_last.get(slug)
        if last is None or position > last:
            self._node_last[slug] = position
        body = msgpack.unpackb(payload, raw=False)
        frame = Outgoing(message_event(slug, message_id, body))
        sender = str(body.get("from", {}).get("handle", ""))
        sender_key = sender.lower()
        self.stats["deliveries"] += len(members)
        metrics.observe_fanout(message_id)
        for member in members.values():
            if member.pending is not None:
                member.pending.append((position, frame, sender))
            elif member.cursor.advance(position) and sender_key not in member.conn.blocked:
                member.conn.push(frame)

    def _fanout(self, slug: str, event: dict[str, Any],
                skip: Callable[[Connection], bool] | None = None) -> None:
        members = self.rooms.get(slug)
        if not members:
            return
        frame = Outgoing(event)
        for member in members.values():
            if skip is None or not skip(member.conn):
                member.conn.push(frame)

    def _on_presence(self, slug: str, body: dict[str, Any]) -> None:
        count = int(body.get("count", 0))
        if self._presence_sent.get(slug) == count:
            return  # coalesce repeats
        self._presence_sent[slug] = count
        self._fanout(slug, {"type": "presence", "room": slug, "count": count})

    def _on_typing(self, slug: str, body: dict[str, Any]) -> None:
        handle = str(body.get("handle", ""))
        uid = str(body.get("uid", ""))
        key = handle.lower()
        self._fanout(slug, {"type": "typing", "room": slug, "handle": handle},
                     skip=lambda c: (c.identity is not None and c.identity.user_id == uid)
                     or key in c.blocked)

    async def resync(self, slug: str) -> None:
        """After a pub/sub reconnect: deliver what the stream has past our last id."""
        last = self._node_last.get(slug)
        if last is None:
            return
        after = f"{last[0]}-{last[1]}"
        while True:
            rows = await self.broker.after(slug, after, 1000)
            for rid, raw in rows:
                self._deliver(slug, rid, raw)
            if len(rows) < 1000:
                return
            after = rows[-1][0]

    # -- outbound ---------------------------------------------------------
    async def history(self, conn: Connection, slug: str, before: str, limit: int) -> list[Any]:
        if slug not in conn.rooms:
            raise OpError("not_joined", f"not in room {slug[:40]!r}")
        if parse_id(before) is None:
            raise OpError("bad_request", "before is not a message id")
        try:
            rows = await self.broker.before(slug, before, limit)
        except BrokerUnavailable:
            raise OpError("unavailable", "the message broker is unreachable; try again") from None
        out = []
        for rid, raw in rows:
            body = msgpack.unpackb(raw, raw=False)
            if not self._hidden_from(conn, body):
                out.append(public_message(message_event(slug, rid, body)))
        return out

    async def typing(self, conn: Connection, slug: str, now: float) -> None:
        if slug not in conn.rooms or conn.identity is None:
            return
        if now - conn.last_typing.get(slug, -1e9) < self.config.limits.typing_interval:
            return
        conn.last_typing[slug] = now
        with contextlib.suppress(BrokerUnavailable):
            await self.broker.publish(slug, "typing", {"room": slug,
                                                       "handle": conn.identity.handle,
                                                       "uid": conn.identity.user_id})

    def local_count(self, slug: str) -> int:
        return len(self.rooms.get(slug, ()))

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()
