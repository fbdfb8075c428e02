"""Surviving faults: SIGTERM drain, Redis going away and coming back, SIGKILL, workers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
import websockets

from tests.client import Client
from tests.conftest import ROOT, free_port, wait_ready
from tests.ops_support import OwnRedis, assert_everyone_hears, log_lines, wait_status

pytestmark = pytest.mark.asyncio
FAST = {"limits_send_rate": 100000, "limits_send_burst": 100000}


def message_ids(client: Client) -> list[str]:
    return [f["id"] for f in client.seen if f.get("type") == "message"]


async def resume(url: str, token: str | None, room: str, since: str | None,
                 have: list[str], want: list[str], timeout: float = 20) -> list[str]:
    """Reconnect with the token, join with `since`, collect until `want` is covered."""
    c = await Client.connect(url, hello={"token": token})
    reply = await c.ok("join", room=room, since=since) if since else \
        await c.ok("join", room=room)
    got = [m["id"] for m in reply["messages"]]
    deadline = time.monotonic() + timeout
    while not set(want) <= set(have + got) and time.monotonic() < deadline:
        try:
            got.append((await c.next_event("message", timeout=1))["id"])
        except TimeoutError:
            continue
    await c.close()
    return got


async def test_sigterm_drains_1012_exit_0_and_resume_elsewhere(start_node) -> None:
    a = start_node(server_shutdown_timeout=5, **FAST)
    b = start_node(**FAST)
    writer = await Client.connect(b.ws_url, guest="writer")
    reader = await Client.connect(a.ws_url, guest="reader")
    await writer.ok("join", room="general")
    await reader.ok("join", room="general")
    acked: list[str] = []

    async def write() -> None:
        for i in range(60):
            acked.append((await writer.ok("send", room="general", text=f"m{i}"))["id"])
            await asyncio.sleep(0.01)

    task = asyncio.create_task(write())
    await reader.messages(5, room="general")
    code = await asyncio.get_running_loop().run_in_executor(None, a.stop, signal.SIGTERM)
    assert code == 0
    close_code, _ = await reader.closed()
    assert close_code == 1012
    await task
    seen = message_ids(reader)
    assert seen == acked[:len(seen)]
    rest = await resume(b.ws_url, reader.token, "general", seen[-1], seen, acked)
    assert seen + rest == acked  # nothing lost, nothing twice, in order
    assert "node started" in a.log()
    await writer.close()


async def test_redis_outage_unavailable_then_resync(start_node, tmp_path) -> None:
    redis = OwnRedis(tmp_path)
    try:
        a = start_node(redis_url=redis.url, **FAST)
        b = start_node(redis_url=redis.url, **FAST)
        alice = await Client.connect(a.ws_url, guest="alice")
        bob = await Client.connect(b.ws_url, guest="bob")
        await alice.ok("join", room="general")
        await bob.ok("join", room="general")
        acked = [(await alice.ok("send", room="general", text=f"before {i}"))["id"]
                 for i in range(3)]
        await bob.messages(3, room="general")

        redis.stop()
        reply = await alice.request("send", room="general", text="during the outage",
                                    nonce="outage-1")
        assert reply["error"]["code"] == "unavailable"
        for node in (a, b):
            await wait_status(node.url + "/readyz", 503)
        redis.start()
        # send as soon as node a is back: node b may still be resubscribing, and
        # must fill the gap from the stream (resync) rather than lose it
        await wait_status(a.url + "/readyz", 200)
        for i in range(5):
            for _ in range(50):
                reply = await alice.request("send", room="general", text=f"after {i}")
                if reply["ok"]:
                    acked.append(reply["id"])
                    break
                assert reply["error"]["code"] == "unavailable"
                await asyncio.sleep(0.1)
        await wait_status(b.url + "/readyz", 200)
        after = acked[3:]
        assert len(after) == 5
        got = [m["id"] for m in await bob.messages(5, room="general")]
        assert got == after
        # a resuming client gets everything acknowledged, and nothing half-sent
        carol = await Client.connect(b.ws_url, guest="carol")
        joined = await carol.ok("join", room="general", since=acked[0])
        assert joined["recovered"] is True
        assert [m["id"] for m in joined["messages"]] == acked[1:]
        assert all(m["text"] != "during the outage" for m in joined["messages"])
        metrics = httpx.get(b.url + "/metrics").text
        assert "chatserver_redis_reconnects_total 1.0" in metrics
        for c in (alice, bob, carol):
            await c.close()
    finally:
        redis.close()


async def test_sigkill_loses_nothing_acknowledged(start_node) -> None:
    a = start_node(**FAST)
    b = start_node(**FAST)
    writer = await Client.connect(a.ws_url, guest="writer")
    reader = await Client.connect(a.ws_url, guest="reader")
    watcher = await Client.connect(b.ws_url, guest="watcher")
    for c in (writer, reader, watcher):
        await c.ok("join", room="ptsd")
    acked: list[str] = []
    pending: int | None = None
    for i in range(200):
        if i == 15:
            await asyncio.get_running_loop().run_in_executor(None, a.stop, signal.SIGKILL)
        try:
            reply = await writer.request("send", room="ptsd", text=f"k{i}", nonce=f"n{i}",
                                         timeout=3)
        except (websockets.ConnectionClosed, TimeoutError):
            pending = i
            break
        acked.append(reply["id"])
    assert pending is not None
    # the writer comes back on node b and retries its unanswered send with the same nonce
    again = await Client.connect(b.ws_url, hello={"token": writer.token})
    await again.ok("join", room="ptsd")
    retry = await again.ok("send", room="ptsd", text=f"k{pending}", nonce=f"n{pending}")
    acked.append(retry["id"])
    acked.append((await again.ok("send", room="ptsd", text="after"))["id"])
    seen = message_ids(reader)
    assert seen == acked[:len(seen)]
    rest = await resume(b.ws_url, reader.token, "ptsd", seen[-1] if seen else None, seen,
                        acked)
    assert seen + rest == acked
    await watcher.messages(len(acked), room="ptsd")
    assert message_ids(watcher) == acked
    for c in (again, watcher):
        await c.close()


async def test_workers_share_the_embedded_redis(tmp_path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update({"CHATSERVER_SERVER_DATA_DIR": str(tmp_path / "data"),
                "CHATSERVER_AUTH_ARGON2_MEMORY_COST": "1024",
                "CHATSERVER_LIMITS_SEND_RATE": "1000", "CHATSERVER_LIMITS_SEND_BURST": "1000"})
    log_path = tmp_path / "workers.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chatserver", "serve", "--config", str(ROOT / "config.toml"),
             "--port", str(port), "--workers", "2"],
            cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        await asyncio.get_running_loop().run_in_executor(None, wait_ready, url, proc, 60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both workers up (each logs its node id)
            nodes = {line.get("node") for line in log_lines(log_path.read_text())
                     if line["event"] == "node started"}
            if len(nodes) == 2:
                break
            await asyncio.sleep(0.2)
        assert len(nodes) == 2, log_path.read_text()
        ws_url = f"ws://127.0.0.1:{port}/ws"
        clients = [await Client.connect(ws_url, guest=f"w{i}") for i in range(8)]
        await assert_everyone_hears(clients, "to every worker")
    finally:
        proc.terminate()
        code = await asyncio.get_running_loop().run_in_executor(None, proc.wait, 30)
    assert code == 0
