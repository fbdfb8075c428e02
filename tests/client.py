"""A small protocol client for tests: real WebSocket, replies matched by ref."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

Frame = dict[str, Any]


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.replies: dict[str, asyncio.Future[Frame]] = {}
        self.events: asyncio.Queue[Frame] = asyncio.Queue()
        self.seen: list[Frame] = []
        self._refs = itertools.count(1)
        self._reader = asyncio.create_task(self._read())
        self.user: Frame = {}
        self.token: str | None = None

    @classmethod
    async def connect(cls, url: str, *, hello: Frame | None = None, guest: str = "tester",
                      subprotocols: list[str] | None = None, **kw: Any) -> Client:
        ws = await websockets.connect(url, subprotocols=subprotocols or ["peerchat.v1"],
                                      max_size=None, **kw)
        client = cls(ws)
        if hello is None:
            hello = {"guest": {"handle": guest}}
        if hello is not False:
            result = await client.request("hello", **hello)
            assert result["ok"], result
            client.user = result["user"]
            client.token = result.get("token")
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                self.seen.append(frame)
                if frame.get("type") == "reply" and frame.get("ref") in self.replies:
                    fut = self.replies.pop(frame["ref"])
                    if not fut.done():
                        fut.set_result(frame)
                else:
                    await self.events.put(frame)
        except websockets.ConnectionClosed:
            pass

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def request(self, op: str, timeout: float = 10, **args: Any) -> Frame:
        ref = f"r{next(self._refs)}"
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self.replies[ref] = fut
        await self.ws.send(json.dumps({"op": op, "ref": ref, **args}))
        return await asyncio.wait_for(fut, timeout)

    async def ok(self, op: str, **args: Any) -> Frame:
        frame = await self.request(op, **args)
        assert frame["ok"], frame
        return frame

    async def next_event(self, kind: str | None = None, timeout: float = 10,
                         where: Callable[[Frame], bool] | None = None) -> Frame:
        """The next event of `kind` (others are skipped), or TimeoutError."""
        async def find() -> Frame:
            while True:
                frame = await self.events.get()
                if (kind is None or frame.get("type") == kind) and (where is None
                                                                     or where(frame)):
                    return frame
        return await asyncio.wait_for(find(), timeout)

    async def messages(self, n: int, room: str | None = None, timeout: float = 15) -> list[Frame]:
        out = []
        for _ in range(n):
            out.append(await self.next_event(
                "message", timeout, where=(lambda f: room is None or f["room"] == room)))
        return out

    async def closed(self, timeout: float = 10) -> tuple[int | None, str]:
        """Wait for the server to close; (code, reason)."""
        await asyncio.wait_for(self.ws.wait_closed(), timeout)
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
