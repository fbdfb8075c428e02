"""One client connection: its bounded outgoing queue and the task that drains it.

Fan-out never awaits a client: it drops an already-encoded frame into the
connection's queue. When the queue is full the client is too slow to keep
up, and it is closed with 4008 so it can reconnect and resume with `since`
instead of holding every other member back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chatserver.protocol import CLOSE_TOO_SLOW, Outgoing
from rooms.identity import Identity

log = logging.getLogger("chatserver.connection")

Sender = Callable[[str | bytes], Awaitable[None]]
Closer = Callable[[int, str], Awaitable[None]]


@dataclass(eq=False)
class Connection:
    """State of one WebSocket session, owned by the event loop of its node."""

    send_frame: Sender
    close_socket: Closer
    binary: bool
    address: str
    queue_size: int
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    identity: Identity | None = None
    region: str = "*"
    lang: str = "en"
    rooms: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)  # lower-cased handles
    last_typing: dict[str, float] = field(default_factory=dict)
    closed: bool = False
    close_code: int | None = None
    on_overflow: Callable[[Connection], None] | None = None
    # Writes a pre-framed message straight to the socket when it can (fastpath.py).
    write_now: Callable[[bytes], bool] | None = None
    _queue: deque[Outgoing] = field(init=False, default_factory=deque)
    _writer: asyncio.Task[None] | None = field(init=False, default=None)

    def push(self, frame: Outgoing) -> None:
        """Queue a frame without waiting; a full queue means the client fell behind."""
        if self.closed:
            return
        queue = self._queue
        if len(queue) >= self.queue_size:
            log.warning("slow consumer disconnected",
                        extra={"conn": self.id, "queued": self.queue_size, "code": CLOSE_TOO_SLOW})
            if self.on_overflow is not None:
                self.on_overflow(self)
            self.abort(CLOSE_TOO_SLOW, "too slow: reconnect and resume")
            return
        if not queue and self.write_now is not None and self.write_now(frame.wire(self.binary)):
            return
        queue.append(frame)
        if self._writer is None:
            # An idle connection holds no task; one is made per burst of frames.
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def push_obj(self, obj: dict[str, Any]) -> None:
        self.push(Outgoing(obj))

    async def _write_loop(self) -> None:
        queue = self._queue
        binary = self.binary
        send = self.send_frame
        write_now = self.write_now
        try:
            while queue:
                frame = queue.popleft()
                if write_now is None or not write_now(frame.wire(binary)):
                    await send(frame.for_format(binary))
        except Exception:  # the socket is gone: the receive loop will notice and clean up
            queue.clear()
        finally:
            self._writer = None

    async def drain_and_close(self, code: int, reason: str = "", timeout: float = 5.0) -> None:
        """Send what is queued, then close: used for errors that end a session."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._writer), timeout)
        await self._close(code, reason)

    def abort(self, code: int, reason: str = "") -> None:
        """Close now, dropping whatever is still queued (slow client, ban, shutdown)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._queue.clear()
        if self._writer is not None:
            self._writer.cancel()
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.close_socket(code, reason)

    async def stop_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
