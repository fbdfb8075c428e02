"""Helpers for the operations tests: a private redis-server that can die and come back."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.client import Client
from tests.conftest import free_port, spawn_redis_server


async def assert_everyone_hears(clients: list[Client], text: str) -> None:
    """All clients join `general`; one message from the first reaches every one of them
    (the same id), then they disconnect."""
    for c in clients:
        await c.ok("join", room="general")
    reply = await clients[0].ok("send", room="general", text=text)
    for c in clients:
        got = await c.messages(1, room="general")
        assert got[0]["id"] == reply["id"]
    for c in clients:
        await c.close()


class OwnRedis:
    """A redis-server of one test, with AOF persistence so a restart keeps the data."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        self.dir = tmp / "own-redis"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.proc = spawn_redis_server(self.port, self.dir, "--appendonly", "yes",
                                       "--appendfsync", "always", *self.extra)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


async def wait_status(url: str, status: int, timeout: float = 30) -> None:
    """Poll `url` until it answers `status` (bounded)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url, timeout=2)).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered {status}")


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON lines of a node log (anything else is ignored)."""
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def metric(text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus text output."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)
