"""Baseline: the thinnest server on the same stack, for the ours/baseline ratio.

`websockets` asyncio server plus `redis.asyncio` pub/sub: one Redis connection
subscribed to one channel per room that has a local member, `websockets.broadcast`
for the local fan-out. It speaks just enough of peerchat.v1 for the load
generator: `hello` (guest), `join`, `send` (publish the `message` event to the
room's channel, reply `{ok, id, ts, status}`), `leave` and `ping`. No history,
no moderation, no presence, no rate limits, no persistence: what is left is the
cost of the transport and the broker, the floor that the real server is measured
against.

    python -m bench.baseline_server --port 8101 --redis redis://127.0.0.1:6390/0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import secrets
import signal
import time
from http import HTTPStatus
from typing import Any

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

CHANNEL_PREFIX = "bench:room:"


class Node:
    def __init__(self, redis_url: str) -> None:
        # Blocking pool: with more commands in flight than connections, wait for one
        # (redis-py's default pool raises MaxConnectionsError past 100 instead).
        pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=100,
                                                        timeout=10)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.pubsub = self.redis.pubsub()
        self.node = secrets.token_hex(3)
        self.ids = itertools.count(1)
        self.members: dict[str, set[ServerConnection]] = {}
        self.subscribed: dict[str, asyncio.Future[None]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.ready = False

    async def start(self) -> None:
        await self.redis.ping()
        # A subscription to a channel nobody publishes on opens the connection.
        await self._subscribe(CHANNEL_PREFIX + "-")
        self.ready = True

    async def _subscribe(self, channel: str) -> None:
        fut = self.subscribed.get(channel)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self.subscribed[channel] = fut
            await self.pubsub.subscribe(channel)
            if self.reader is None:
                self.reader = asyncio.create_task(self._read())
        await fut

    async def _read(self) -> None:
        pubsub = self.pubsub
        members = self.members
        plen = len(CHANNEL_PREFIX)
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=False, timeout=None)
            if msg is None:
                continue
            channel = msg["channel"].decode()
            kind = msg["type"]
            if kind == "message":
                local = members.get(channel[plen:])
                if local:
                    broadcast(local, msg["data"], text=True)
            elif kind == "subscribe":
                fut = self.subscribed.get(channel)
                if fut is not None and not fut.done():
                    fut.set_result(None)

    async def handler(self, ws: ServerConnection) -> None:
        user: dict[str, Any] | None = None
        joined: set[str] = set()
        try:
            async for raw in ws:
                try:
                    req = json.loads(raw)
                    op = req["op"]
                    ref = req.get("ref")
                except (ValueError, TypeError, KeyError):
                    await ws.send(_error(None, "bad_request", "not a request"))
                    continue
                if user is None:
                    if op != "hello":
                        await ws.send(_error(ref, "unauthorized", "hello first"))
                        await ws.close(4001, "no hello")
                        return
                    guest = req.get("guest") or {}
                    handle = f"{guest.get('handle') or 'guest'}-{secrets.token_hex(2)}"
                    user = {"handle": handle, "role": "guest", "badges": []}
                    await ws.send(_reply(ref, user=user, rooms=[], heartbeat=20))
                elif op == "send":
                    room = req.get("room")
                    text = req.get("text")
                    if room not in joined:
                        await ws.send(_error(ref, "not_joined", "join first"))
                        continue
                    if not isinstance(text, str) or not text.strip():
                        await ws.send(_error(ref, "bad_request", "empty text"))
                        continue
                    mid = f"{self.node}-{next(self.ids)}"
                    ts = int(time.time() * 1000)
                    event = json.dumps({"type": "message", "room": room, "id": mid, "ts": ts,
                                        "from": user, "text": text.strip()},
                                       separators=(",", ":"))
                    await self.redis.publish(CHANNEL_PREFIX + room, event)
                    await ws.send(_reply(ref, id=mid, ts=ts, status="delivered"))
                elif op == "join":
                    room = req.get("room")
                    if not isinstance(room, str) or not room:
                        await ws.send(_error(ref, "bad_request", "room"))
                        continue
                    await self._subscribe(CHANNEL_PREFIX + room)
                    local = self.members.setdefault(room, set())
                    local.add(ws)
                    joined.add(room)
                    await ws.send(_reply(
                        ref, room={"slug": room, "title": room, "description": "",
                                   "guidelines": "", "audience": "all", "language": "en"},
                        messages=[], recovered=False, presence={"count": len(local)}))
                elif op == "leave":
                    self._leave(ws, joined, req.get("room"))
                    await ws.send(_reply(ref))
                elif op in ("ping", "typing"):
                    if op == "ping":
                        await ws.send(_reply(ref))
                else:
                    await ws.send(_error(ref, "bad_request", f"op {op} is not available"))
        finally:
            for room in list(joined):
                self._leave(ws, joined, room)

    def _leave(self, ws: ServerConnection, joined: set[str], room: Any) -> None:
        if room in joined:
            joined.discard(room)
            local = self.members.get(room)
            if local is not None:
                local.discard(ws)

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if request.path in ("/readyz", "/healthz"):
            if self.ready:
                return conn.respond(HTTPStatus.OK, "ready\n")
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "not ready\n")
        if request.path != "/ws":
            return conn.respond(HTTPStatus.NOT_FOUND, "not found\n")
        return None


def _reply(ref: Any, **result: Any) -> str:
    return json.dumps({"type": "reply", "ref": ref, "ok": True, **result},
                      separators=(",", ":"))


def _error(ref: Any, code: str, message: str) -> str:
    return json.dumps({"type": "reply", "ref": ref, "ok": False,
                       "error": {"code": code, "message": message}}, separators=(",", ":"))


async def amain(host: str, port: int, redis_url: str) -> None:
    node = Node(redis_url)
    await node.start()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    async with serve(node.handler, host, port, subprotocols=["peerchat.v1"],  # type: ignore[list-item]
                     process_request=node.process_request, max_size=16384,
                     ping_interval=20, ping_timeout=20):
        await stop
    if node.reader is not None:
        node.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await node.reader
    await node.redis.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--redis", required=True, help="redis://127.0.0.1:PORT/0")
    a = p.parse_args()
    asyncio.run(amain(a.host, a.port, a.redis))


if __name__ == "__main__":
    main()
