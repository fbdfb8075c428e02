"""Handlers of the peer ops (Rooms and messages); moderator ops live elsewhere."""

from __future__ import annotations

from typing import Any

from chatserver.connection import Connection
from chatserver.protocol import Request
from chatserver.send import send_message
from chatserver.services import NO_REPLY, Handler, Services


async def op_join(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    await s.hub.join(conn, req.args["room"], req.args.get("since"), req.ref)
    return NO_REPLY


async def op_leave(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    await s.hub.leave(conn, req.args["room"])
    return {}


async def op_send(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    result = await send_message(s.hub, s.pipeline, conn, req.args["room"], req.args["text"],
                                req.args.get("nonce"))
    s.hub.stats["messages_in"] += 1  # accepted (delivered, held or a repeated nonce)
    return result


async def op_history(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    messages = await s.hub.history(conn, req.args["room"], req.args["before"],
                                   req.args.get("limit", 50))
    return {"messages": messages}


async def op_typing(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    await s.hub.typing(conn, req.args["room"], s.hub.monotonic())
    return NO_REPLY


async def op_ping(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    return {}


PEER_OPS: dict[str, Handler] = {
    "join": op_join,
    "leave": op_leave,
    "send": op_send,
    "history": op_history,
    "typing": op_typing,
    "ping": op_ping,
}
