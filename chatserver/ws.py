"""The WebSocket endpoint: handshake checks, `hello`, then the op loop.

All protocol decisions are delegated to the sans-I/O codec (`protocol`)
and to the hub; this module only moves frames between the socket and them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from chatserver.broker import BrokerUnavailable
from chatserver.connection import Connection
from chatserver.fastpath import RAW_SEND, raw_frame_writer
from chatserver.hello import authenticate
from chatserver.logs import bind_request
from chatserver.origin import origin_allowed
from chatserver.production import connection_limits
from chatserver.protocol import (
    CLOSE_BANNED,
    CLOSE_NO_HELLO,
    CLOSE_VIOLATIONS,
    MSGPACK_SUBPROTOCOL,
    BadFrame,
    OpError,
    Request,
    ViolationCounter,
    choose_subprotocol,
    decode,
    error,
    parse,
    reply,
)
from chatserver.proxy import client_address as forwarded_address
from chatserver.services import NO_REPLY, Services

log = logging.getLogger("chatserver.ws")


def client_address(ws: WebSocket) -> str:
    """The peer, or the client behind a trusted reverse proxy (chatserver.proxy)."""
    services: Services = ws.app.state.services
    return forwarded_address(ws.client, ws.headers, services.config.server.trusted_proxies)


async def websocket_endpoint(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    cfg = services.config
    origin = ws.headers.get("origin")
    if origin is not None and not origin_allowed(origin, ws.headers.get("host"),
                                                 cfg.server.allowed_origins):
        # Closing before accept makes the server answer the handshake with 403.
        await ws.close(code=1008)
        return
    subprotocol = choose_subprotocol(list(ws.scope.get("subprotocols", [])))
    await ws.accept(subprotocol=subprotocol)
    binary = subprotocol == MSGPACK_SUBPROTOCOL

    async def send_frame(data: str | bytes) -> None:
        if isinstance(data, str):
            await ws.send_text(data)
        else:
            await ws.send_bytes(data)

    async def close_socket(code: int, reason: str) -> None:
        await ws.close(code=code, reason=reason[:120])

    conn = Connection(send_frame=send_frame, close_socket=close_socket, binary=binary,
                      address=client_address(ws), queue_size=cfg.server.outgoing_queue,
                      write_now=raw_frame_writer(ws.scope.get(RAW_SEND)))
    bind_request(conn.id, conn.address)
    services.hub.stats["connections"] += 1
    try:
        if await _hello(services, ws, conn):
            services.hub.register(conn)
            await _op_loop(services, ws, conn)
    except WebSocketDisconnect:
        pass
    finally:
        await services.hub.disconnect(conn)
        await conn.stop_writer()
        limits = connection_limits(services)
        if limits is not None:
            await limits.release(conn.id)
        log.info("closed", extra={"conn": conn.id, "code": conn.close_code})


async def _receive(ws: WebSocket) -> str | bytes | None:
    """The next frame's payload, or None when the client went away."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is not None:
        return str(text)
    data = message.get("bytes")
    return bytes(data) if data is not None else b""


async def _hello(s: Services, ws: WebSocket, conn: Connection) -> bool:
    cfg = s.config
    try:
        data = await asyncio.wait_for(_receive(ws), cfg.server.hello_timeout)
    except TimeoutError:
        await conn.drain_and_close(CLOSE_NO_HELLO, "no hello")
        return False
    if data is None:
        return False
    ref: str | None = None
    try:
        obj = decode(data)
        if isinstance(obj, dict) and isinstance(obj.get("ref"), str):
            ref = obj["ref"]
        req = parse(obj)
        if req.op != "hello":
            raise BadFrame("the first op must be hello", req.ref)
    except BadFrame as exc:
        conn.push_obj(error(exc.ref or ref, "unauthorized", f"hello required: {exc.message}"))
        await conn.drain_and_close(CLOSE_NO_HELLO, "no hello")
        return False
    try:
        identity, result = await authenticate(s, ws.headers, conn, req)
        limits = connection_limits(s)
        refused = None if limits is None else \
            await limits.acquire(conn.id, identity.user_id, conn.address)
        if refused is not None:
            s.hub.stats["connection_limited"] += 1
            log.warning("connection limit", extra={"conn": conn.id, "per": refused})
            whom = "account" if refused == "user" else "address"
            conn.push_obj(error(req.ref, "too_many_connections",
                                f"too many open connections for this {whom}"))
            await conn.drain_and_close(CLOSE_VIOLATIONS, "too many connections")
            return False
    except OpError as exc:
        conn.push_obj(error(req.ref, exc.code, exc.message))
        code = CLOSE_BANNED if exc.code == "banned" else CLOSE_NO_HELLO
        await conn.drain_and_close(code, exc.code)
        return False
    except BrokerUnavailable:
        conn.push_obj(error(req.ref, "unavailable", "the server cannot reach its store"))
        await conn.drain_and_close(1011, "unavailable")
        return False
    conn.identity = identity
    conn.push_obj(reply(req.ref, **result))
    log.info("hello", extra={"conn": conn.id, "role": identity.role, "addr": conn.address})
    return True


async def _op_loop(s: Services, ws: WebSocket, conn: Connection) -> None:
    violations = ViolationCounter(s.config.limits.bad_frames_per_minute)
    while not conn.closed:
        data = await _receive(ws)
        if data is None:
            return
        try:
            req = parse(decode(data))
        except BadFrame as exc:
            conn.push_obj(error(exc.ref, "bad_request", exc.message))
            if violations.add(time.monotonic()):
                await conn.drain_and_close(CLOSE_VIOLATIONS, "too many bad frames")
                return
            continue
        await _dispatch(s, conn, req, violations)


async def _dispatch(s: Services, conn: Connection, req: Request,
                    violations: ViolationCounter) -> None:
    handler = s.handlers.get(req.op)
    result: dict[str, Any]
    try:
        if handler is None:
            if req.op == "hello":
                raise OpError("bad_request", "already said hello")
            raise OpError("bad_request", f"op {req.op} is not available")
        result = await handler(s, conn, req)
    except OpError as exc:
        if req.op == "typing":
            return
        conn.push_obj(error(req.ref, exc.code, exc.message, exc.retry_after))
        if exc.code == "bad_request" and violations.add(time.monotonic()):
            await conn.drain_and_close(CLOSE_VIOLATIONS, "too many bad frames")
        return
    except BrokerUnavailable:
        conn.push_obj(error(req.ref, "unavailable", "the message broker is unreachable"))
        return
    except Exception:
        log.exception("op failed", extra={"op": req.op, "conn": conn.id})
        conn.push_obj(error(req.ref, "internal", "something went wrong on the server"))
        return
    if result is NO_REPLY or req.op == "typing":
        return
    conn.push_obj(reply(req.ref, **result))

