"""`chatserver serve` as an operator runs it: embedded Redis, config errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from tests.client import Client
from tests.conftest import ROOT, free_port, wait_ready


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _serve(tmp_path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "chatserver", "serve", "--port", str(port)],
        cwd=str(tmp_path), env=_env(CHATSERVER_SERVER_DATA_DIR=str(tmp_path / "data"), **extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_embedded_redis_keeps_history_across_restarts(tmp_path) -> None:
    port = free_port()
    proc = _serve(tmp_path, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)

        async def say() -> str:
            c = await Client.connect(f"ws://127.0.0.1:{port}/ws")
            await c.ok("join", room="general")
            reply = await c.ok("send", room="general", text="still here after a restart")
            await c.close()
            return str(reply["id"])

        sent_id = asyncio.run(say())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert (tmp_path / "data").is_dir()
    proc = _serve(tmp_path, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)

        async def read() -> list[str]:
            c = await Client.connect(f"ws://127.0.0.1:{port}/ws")
            joined = await c.ok("join", room="general")
            await c.close()
            return [m["id"] for m in joined["messages"]]

        assert sent_id in asyncio.run(read())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@pytest.mark.parametrize("var,value,expect", [
    ("CHATSERVER_LIMITS_SEND_RATE", "fast", "limits.send_rate"),
    ("CHATSERVER_AUTH_ALLOW_GUESTS", "maybe", "auth.allow_guests"),
    ("CHATSERVER_LIMITS_SENDRATE", "1", "CHATSERVER_LIMITS_SENDRATE: unknown"),
])
def test_bad_config_stops_startup_with_one_clear_line(tmp_path, var, value, expect) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "chatserver", "serve", "--config", str(ROOT / "config.toml"),
         "--port", str(free_port())],
        cwd=str(tmp_path), env=_env(**{var: value}), capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], out.stderr
