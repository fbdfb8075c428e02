"""Fan-out fast path: write a frame framed once per node straight to a socket.

Through ASGI every recipient costs a task wake-up, Starlette's and uvicorn's
send layers, and framing the same payload again. When the server runs on
uvicorn's websockets-sansio protocol (the one `chatserver serve` selects),
the ASGI `send` callable is a method of the connection's protocol object, so
a frame serialised once can be written to each transport directly — what
`websockets.broadcast` does. It is used only while the protocol is open and
its transport is below its high-water mark; otherwise (or on another server)
frames take the ordinary ASGI path, which waits for the transport to drain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.protocol import Protocol, State

RAW_SEND = "chatserver.raw_send"

FrameWriter = Callable[[bytes], bool]


class ExposeRawSend:
    """Outermost middleware: keep the server's own `send` in the WebSocket scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


def raw_frame_writer(raw_send: Any) -> FrameWriter | None:
    """A function writing a pre-framed message, or None when this server has no such path.

    The function returns False (and writes nothing) whenever the ordinary
    path must be taken: the handshake is not done, a close was sent or
    received, an extension (compression) is active, or the transport is full.
    """
    proto = getattr(raw_send, "__self__", None)
    conn = getattr(proto, "conn", None)
    transport = getattr(proto, "transport", None)
    writable = getattr(proto, "writable", None)
    if proto is None or not isinstance(conn, Protocol) or transport is None \
            or not isinstance(writable, asyncio.Event):
        return None

    def write(frame: bytes) -> bool:
        if (not writable.is_set() or conn.state is not State.OPEN or conn.extensions
                or getattr(proto, "close_sent", True) or transport.is_closing()):
            return False
        transport.write(frame)
        return True

    return write
