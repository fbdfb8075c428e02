"""Load generator: speaks peerchat.v1 over raw WebSocket frames, in separate processes.

Run by `bench.run`, one invocation per scenario::

    python -m bench.loadgen '<spec JSON>'

It talks to the harness over stdin/stdout, one line each way:

- prints ``READY {json}`` once every connection has done `hello` and `join`;
- waits for one line on stdin (``GO``), then loads the nodes (modes `rate` and
  `window`) or, in mode `idle`, closes everything;
- prints ``DONE`` after the load phase and the drain period, then
  ``RESULT {json}`` with counts and latency percentiles.

The client is a minimal RFC 6455 implementation on `asyncio.Protocol`: no
per-frame task or future, no JSON parsing of message events (the text carries a
marker, `sender`, `seq` and the sender's `time.monotonic_ns()`, read with a
byte search). CLOCK_MONOTONIC is system-wide on Linux, so send and receive
times taken in different processes compare. Replies and a sample of message
events are parsed in full to check them. The work is split over `workers`
processes (forked); every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import random
import select
import sys
import time
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait as mp_wait
from typing import Any

MARKER = b"zqBENCH "
MARKER_S = MARKER.decode()
PAD = "lorem ipsum dolor sit amet, consectetur adipiscing elit"
# Numbers in the text are written as hex with the digits 0-9 shifted to g-p: a long
# run of decimal digits reads as a phone number to the moderation pipeline, which
# would hold the message (contact sharing) instead of delivering it.
_ENC = str.maketrans("0123456789", "ghijklmnop")
_DEC = bytes.maketrans(b"ghijklmnop", b"0123456789")


def enc_int(n: int) -> str:
    # the q prefix keeps a token like "dead" (0xdead) from reading as a word
    return "q" + format(n, "x").translate(_ENC)


def dec_int(b: bytes) -> int:
    return int(b[1:].translate(_DEC), 16)
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SUBPROTOCOL = "peerchat.v1"
HOST = "127.0.0.1"  # the only address this tool ever connects to
MAX_HEADER = 65536
# What browsers offer. The client accepts compressed frames and sends uncompressed
# ones (RFC 7692 lets a sender leave any message uncompressed).
DEFLATE_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
VALIDATE_EVERY = 997  # parse one message event in this many in full


@dataclass(frozen=True)
class Spec:
    mode: str  # "rate" | "window" | "idle"
    nodes: list[int]  # ports on 127.0.0.1; room members alternate between them
    rooms: list[str]
    subs: int  # members per room
    senders: int = 0  # of which senders, per room
    rate: float = 0.0  # total messages/s offered (mode rate)
    window: int = 0  # total messages awaiting their `send` reply (mode window)
    duration: float = 10.0
    drain_max: float = 5.0
    quiet: float = 0.5
    workers: int = 2
    concurrency: int = 100  # handshakes in progress per worker
    setup_timeout: float = 60.0
    setup_retries: int = 2  # reconnects after a failed handshake, hello or join
    handle: str = "bench"
    run_id: str = "r"
    deflate: bool = False  # offer permessage-deflate, as browsers do

    @classmethod
    def from_json(cls, text: str) -> Spec:
        raw = json.loads(text)
        return cls(**raw)

    @property
    def total_senders(self) -> int:
        return len(self.rooms) * self.senders


def _mask_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (FIN set, masked with a random key, as RFC 6455 requires)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = random.randbytes(4)
    if n:
        keystream = (key * ((n + 3) // 4))[:n]
        body = (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(
            n, "big")
    else:
        body = b""
    return head + key + body


class SetupError(Exception):
    pass


class Client(asyncio.Protocol):
    """One WebSocket connection: handshake, hello, join, then sends and receives."""

    def __init__(self, w: Worker, idx: int, room: str, port: int, sender: bool) -> None:
        self.w = w
        self.idx = idx
        self.room = room
        self.port = port
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.closed = False
        self.ready = False
        self.hbuf = bytearray()
        self.buf = bytearray()
        self.frag: bytearray | None = None
        self.frag_compressed = False
        self.inflater: Any = None  # zlib decompressor once permessage-deflate is agreed
        self.inflate_reset = False
        self.key = base64.b64encode(random.randbytes(16)).decode()
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.inflight: dict[str, int] = {}
        self.last_seq: dict[int, int] = {}
        self.seq = 0
        self.received = 0

    # -- transport callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        req = (f"GET /ws HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n"
               f"{DEFLATE_OFFER if self.w.spec.deflate else ''}"
               "User-Agent: peerchat-bench\r\n\r\n")
        transport.write(req.encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.w.running and self.ready:
            self.w.lost_conns += 1
        err = SetupError("connection lost")
        if not self.handshake.done():
            self.handshake.set_exception(err)
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(err)
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        if not self.open:
            self.hbuf += data
            end = self.hbuf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.hbuf) > MAX_HEADER:
                    self._fail("handshake response too long")
                return
            head = bytes(self.hbuf[:end]).decode("latin-1")
            rest = bytes(self.hbuf[end + 4:])
            self.hbuf = bytearray()
            problem = self._check_handshake(head)
            if problem:
                self._fail(problem)
                return
            self.open = True
            if not self.handshake.done():
                self.handshake.set_result(None)
            if not rest:
                return
            data = rest
        buf = self.buf
        buf += data
        n = len(buf)
        pos = 0
        now = time.monotonic_ns()
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            ln = b1 & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 4], "big")
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 10], "big")
                hdr = 10
            masked = b1 & 0x80
            if masked:
                hdr += 4
            end = pos + hdr + ln
            if end > n:
                break
            payload = bytes(buf[pos + hdr:end])
            if masked:  # servers do not mask, but be liberal in what we accept
                key = bytes(buf[pos + hdr - 4:pos + hdr])
                keystream = (key * ((ln + 3) // 4))[:ln]
                payload = (int.from_bytes(payload, "big")
                           ^ int.from_bytes(keystream, "big")).to_bytes(ln, "big")
            pos = end
            if b0 & 0x70:
                if b0 & 0x70 != 0x40 or self.inflater is None:
                    self._fail("reserved bits set (no extension was negotiated)")
                    return
                self.frag_compressed = True  # RSV1: permessage-deflate, on a message's first frame
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode == 1 and fin:
                if self.frag_compressed:
                    payload = self._inflate(payload)
                self._on_text(payload, now)
            elif opcode == 1 or opcode == 2:
                self.frag = bytearray(payload) if opcode == 1 else None
                if opcode == 2:
                    self.w.binary_frames += 1
            elif opcode == 0:
                if self.frag is not None:
                    self.frag += payload
                    if fin:
                        whole = bytes(self.frag)
                        self.frag = None
                        if self.frag_compressed:
                            whole = self._inflate(whole)
                        self._on_text(whole, now)
            elif opcode == 9:
                self._write(10, payload)
            elif opcode == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.w.server_closes[str(code)] += 1
                with contextlib.suppress(Exception):
                    self._write(8, payload[:2])
                self.closed = True
                if self.transport is not None:
                    self.transport.close()
                return
            # opcode 10 (pong) and binary frames: ignored
        if pos:
            del buf[:pos]

    # -- frames --------------------------------------------------------------------------

    def _check_handshake(self, head: str) -> str | None:
        lines = head.split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            return f"handshake refused: {lines[0][:80]}"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(
            hashlib.sha1((self.key + WS_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            return "bad Sec-WebSocket-Accept"
        if headers.get("sec-websocket-protocol") != SUBPROTOCOL:
            return "subprotocol peerchat.v1 not selected"
        ext = headers.get("sec-websocket-extensions", "")
        if ext:
            params = [p.strip() for p in ext.split(";")]
            if not self.w.spec.deflate or params[0] != "permessage-deflate":
                return "server chose an extension the client did not offer"
            self.inflate_reset = "server_no_context_takeover" in params
            self.inflater = zlib.decompressobj(-15)
            self.w.deflate_conns += 1
        return None

    def _inflate(self, data: bytes) -> bytes:
        assert self.inflater is not None
        out = self.inflater.decompress(data + b"\x00\x00\xff\xff")
        if self.inflate_reset:
            self.inflater = zlib.decompressobj(-15)
        self.frag_compressed = False
        return out

    def _fail(self, why: str) -> None:
        err = SetupError(why)
        if not self.handshake.done():
            self.handshake.set_exception(err)
        self.w.protocol_errors[why] += 1
        if self.transport is not None:
            self.transport.abort()

    def _write(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(_mask_frame(opcode, payload))

    def send_json(self, obj: dict[str, Any]) -> None:
        self._write(1, json.dumps(obj, separators=(",", ":")).encode())

    def _on_text(self, payload: bytes, now: int) -> None:
        w = self.w
        i = payload.find(MARKER)
        if i >= 0:
            j = payload.find(b'"', i)
            parts = payload[i + len(MARKER):j].split(b" ", 4)
            try:
                run, sender = parts[0], dec_int(parts[1])
                seq, sent_ns = dec_int(parts[2]), dec_int(parts[3])
            except (IndexError, ValueError):
                w.invalid += 1
                return
            if run != w.run_id_b:
                w.foreign += 1
                return
            w.deliveries += 1
            w.lat.append((now - sent_ns) // 1000)
            last = self.last_seq.get(sender, -1)
            if seq <= last:
                w.dups += 1
            self.last_seq[sender] = seq
            w.last_delivery_ns = now
            self.received += 1
            if self.received == 1 or w.deliveries % VALIDATE_EVERY == 0:
                self._validate(payload)
            return
        if b'"reply"' in payload:
            try:
                obj = json.loads(payload)
            except ValueError:
                w.invalid += 1
                return
            if isinstance(obj, dict) and obj.get("type") == "reply":
                self._on_reply(obj, now)
                return
        w.other_events += 1
        if w.other_events <= 2000:
            try:
                kind = str(json.loads(payload).get("type"))
            except (ValueError, AttributeError):
                kind = "invalid"
            w.event_types[kind] += 1

    def _validate(self, payload: bytes) -> None:
        try:
            obj = json.loads(payload)
            ok = (obj.get("type") == "message" and obj.get("room") == self.room
                  and isinstance(obj.get("id"), str) and isinstance(obj.get("ts"), int | float)
                  and isinstance(obj.get("from"), dict)
                  and str(obj.get("text", "")).startswith(MARKER_S))
        except (ValueError, AttributeError):
            ok = False
        self.w.validated += 1
        if not ok:
            self.w.invalid += 1

    def _on_reply(self, obj: dict[str, Any], now: int) -> None:
        ref = obj.get("ref")
        w = self.w
        if not isinstance(ref, str):
            w.unmatched_replies += 1
            return
        fut = self.pending.pop(ref, None)
        if fut is not None:
            if not fut.done():
                fut.set_result(obj)
            return
        sent_ns = self.inflight.pop(ref, None)
        if sent_ns is None:
            w.unmatched_replies += 1
            return
        w.ack_lat.append((now - sent_ns) // 1000)
        if obj.get("ok"):
            if obj.get("status") == "held":
                w.held += 1
            else:
                w.acked[self.room] += 1
        else:
            err = obj.get("error")
            code = err.get("code") if isinstance(err, dict) else None
            w.send_errors[str(code)] += 1
        if w.window_mode and w.running and now < w.t_end:
            self.send_message()

    # -- session -------------------------------------------------------------------------

    async def request(self, obj: dict[str, Any], timeout: float) -> dict[str, Any]:
        ref = obj["ref"]
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ref] = fut
        self.send_json(obj)
        return await asyncio.wait_for(fut, timeout)

    async def setup(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.create_connection(lambda: self, HOST, self.port), timeout)
        await asyncio.wait_for(asyncio.shield(self.handshake), timeout)
        rep = await self.request(
            {"op": "hello", "ref": "h", "guest": {"handle": self.w.spec.handle}}, timeout)
        if not rep.get("ok"):
            raise SetupError(f"hello: {_code(rep)}")
        rep = await self.request({"op": "join", "ref": "j", "room": self.room}, timeout)
        if not rep.get("ok"):
            raise SetupError(f"join: {_code(rep)}")
        self.ready = True

    def send_message(self) -> None:
        seq = self.seq
        self.seq = seq + 1
        ref = f"s{seq}"
        w = self.w
        now = time.monotonic_ns()
        text = f"{MARKER_S}{w.spec.run_id} {enc_int(self.idx)} {enc_int(seq)} {enc_int(now)} {PAD}"
        frame = (f'{{"op":"send","ref":"{ref}","room":"{self.room}","text":"{text}",'
                 f'"nonce":"{w.spec.run_id}-{self.idx}-{seq}"}}')
        self.inflight[ref] = now
        w.sent += 1
        self._write(1, frame.encode())

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            with contextlib.suppress(Exception):
                self._write(8, (1000).to_bytes(2, "big"))
            self.transport.close()
        self.closed = True


def _code(rep: dict[str, Any]) -> str:
    err = rep.get("error")
    return str(err.get("code")) if isinstance(err, dict) else "?"


def _pct(sorted_vals: list[int], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))
    return sorted_vals[k] / 1000.0


def summarize_us(values: list[int]) -> dict[str, float]:
    """Percentiles in milliseconds of microsecond samples."""
    vals = sorted(values)
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "p50": _pct(vals, 0.50), "p90": _pct(vals, 0.90),
            "p99": _pct(vals, 0.99), "p999": _pct(vals, 0.999), "max": vals[-1] / 1000.0,
            "mean": sum(vals) / len(vals) / 1000.0}


class Worker:
    """The connections of one process and their counters."""

    def __init__(self, spec: Spec, wid: int) -> None:
        self.spec = spec
        self.wid = wid
        self.run_id_b = spec.run_id.encode()
        self.window_mode = spec.mode == "window"
        self.running = False
        self.t_end = 0
        self.clients: list[Client] = []
        self.lat = array("q")
        self.ack_lat = array("q")
        self.deliveries = 0
        self.dups = 0
        self.foreign = 0
        self.invalid = 0
        self.validated = 0
        self.sent = 0
        self.held = 0
        self.acked: Counter[str] = Counter()
        self.send_errors: Counter[str] = Counter()
        self.server_closes: Counter[str] = Counter()
        self.protocol_errors: Counter[str] = Counter()
        self.setup_errors: Counter[str] = Counter()
        self.setup_retried: Counter[str] = Counter()
        self.event_types: Counter[str] = Counter()
        self.other_events = 0
        self.unmatched_replies = 0
        self.binary_frames = 0
        self.lost_conns = 0
        self.last_delivery_ns = 0
        self.polls = 0
        self.reads = 0
        self.deflate_conns = 0

    def build(self) -> None:
        s = self.spec
        for r, room in enumerate(s.rooms):
            for m in range(s.subs):
                idx = r * s.subs + m
                if idx % s.workers != self.wid:
                    continue
                port = s.nodes[m % len(s.nodes)]  # half of each room on each node
                self.clients.append(Client(self, idx, room, port, m < s.senders))

    async def connect_all(self) -> dict[str, Any]:
        s = self.spec
        sem = asyncio.Semaphore(s.concurrency)
        t0 = time.monotonic()
        deadline = t0 + s.setup_timeout

        async def one(slot: int) -> None:
            async with sem:
                for attempt in range(1 + s.setup_retries):
                    c = self.clients[slot]
                    if attempt:  # a fresh connection, as a real client would reconnect
                        c.close()
                        c = Client(self, c.idx, c.room, c.port, c.sender)
                        self.clients[slot] = c
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.setup_errors["setup deadline passed"] += 1
                        return
                    try:
                        await c.setup(min(left, 30.0))
                        return
                    except TimeoutError:
                        why = "timeout"
                    except (SetupError, OSError) as exc:
                        why = str(exc)[:80]
                    if attempt < s.setup_retries:
                        self.setup_retried[why] += 1
                        await asyncio.sleep(0.05 * (attempt + 1))
                    else:
                        self.setup_errors[why] += 1

        await asyncio.gather(*(one(i) for i in range(len(self.clients))))
        joined: Counter[str] = Counter(c.room for c in self.clients if c.ready)
        return {"wid": self.wid, "conns": len(self.clients), "ready": sum(joined.values()),
                "joined": dict(joined), "deflate_conns": self.deflate_conns,
                "setup_s": time.monotonic() - t0,
                "setup_errors": dict(self.setup_errors),
                "setup_retried": dict(self.setup_retried)}

    async def load(self, t0: int) -> None:
        """Send (mode rate or window) from `t0` for `duration`, then drain.

        The sockets leave asyncio for this phase: a blocking epoll loop reads them
        with `os.read` and hands the bytes to the same `data_received`, which costs
        the generator about half the CPU per received frame of asyncio's selector
        loop. Writes still go through the asyncio transports (a direct `send`
        while their buffer is empty). The loop ends by itself: after `duration`
        plus at most `drain_max` seconds.
        """
        s = self.spec
        self.t_end = t0 + int(s.duration * 1e9)
        senders = [c for c in self.clients if c.sender and c.ready]
        ep = select.epoll()
        by_fd: dict[int, Client] = {}
        for c in self.clients:
            if c.ready and not c.closed and c.transport is not None:
                c.transport.pause_reading()
                fd = c.transport.get_extra_info("socket").fileno()
                ep.register(fd, select.EPOLLIN)
                by_fd[fd] = c
        try:
            self._epoll_loop(ep, by_fd, t0, senders)
        finally:
            ep.close()
            for c in list(by_fd.values()):
                if not c.closed and c.transport is not None:
                    with contextlib.suppress(Exception):
                        c.transport.resume_reading()
        self.running = False
        await asyncio.sleep(0)

    def _epoll_loop(self, ep: select.epoll, by_fd: dict[int, Client], t0: int,
                    senders: list[Client]) -> None:
        s = self.spec
        t_end = self.t_end
        rate_mode = s.mode == "rate" and bool(senders)
        rate = s.rate * len(senders) / max(1, s.total_senders)
        k = len(senders)
        done = 0
        i = 0
        drain_end = t_end + int(s.drain_max * 1e9)
        quiet = int(s.quiet * 1e9)
        next_check = 0
        started = False
        polls = reads = 0
        read = os.read
        poll = ep.poll
        monotonic_ns = time.monotonic_ns
        while True:
            now = monotonic_ns()
            if not started:
                if now >= t0:
                    started = True
                    self.running = True
                    if s.mode == "window":
                        each = max(1, s.window // max(1, s.total_senders))
                        for c in senders:
                            for _ in range(each):
                                c.send_message()
                timeout = min(0.05, max(0.0, (t0 - now) / 1e9))
            elif now < t_end:
                if rate_mode:
                    due = int((now - t0) * rate / 1e9) - done
                    if due > 0:
                        for _ in range(due):
                            senders[i].send_message()
                            i = (i + 1) % k
                        done += due
                    timeout = 0.001
                else:
                    timeout = 0.01
            else:
                if now >= drain_end:
                    break
                if now >= next_check:
                    next_check = now + 50_000_000
                    inflight = any(c.inflight for c in senders)
                    if not inflight and now - max(self.last_delivery_ns, t_end) >= quiet:
                        break
                timeout = 0.05
            polls += 1
            for fd, _ev in poll(timeout):
                reads += 1
                c = by_fd.get(fd)
                if c is None:
                    continue
                try:
                    data = read(fd, 262144)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data and not c.closed:
                    c.data_received(data)
                if not data or c.closed:
                    ep.unregister(fd)
                    del by_fd[fd]
                    if not c.closed:
                        c.closed = True
                        self.lost_conns += 1
        self.polls += polls
        self.reads += reads

    def result(self) -> dict[str, Any]:
        return {
            "wid": self.wid, "sent": self.sent, "held": self.held, "acked": dict(self.acked),
            "unanswered": sum(len(c.inflight) for c in self.clients),
            "send_errors": dict(self.send_errors), "deliveries": self.deliveries,
            "dups": self.dups, "foreign": self.foreign, "invalid": self.invalid,
            "validated": self.validated, "server_closes": dict(self.server_closes),
            "protocol_errors": dict(self.protocol_errors), "other_events": self.other_events,
            "event_types": dict(self.event_types), "unmatched_replies": self.unmatched_replies,
            "binary_frames": self.binary_frames, "lost_conns": self.lost_conns,
            "polls": self.polls, "reads": self.reads,
            "lat": self.lat.tobytes(), "ack_lat": self.ack_lat.tobytes(),
        }


async def _recv(pipe: Pipe, timeout: float) -> Any:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(pipe.fileno(), readable)
    try:
        await asyncio.wait_for(fut, timeout)
    finally:
        loop.remove_reader(pipe.fileno())
    return pipe.recv()


async def _worker_async(spec: Spec, wid: int, pipe: Pipe) -> None:
    w = Worker(spec, wid)
    w.build()
    ready = await w.connect_all()
    pipe.send(("ready", ready))
    msg = await _recv(pipe, 900.0)
    if msg[0] == "go":
        await w.load(int(msg[1]))
        pipe.send(("done", None))
        pipe.send(("result", w.result()))
        await _recv(pipe, 120.0)  # "stop": keep the sockets open until everyone is done
    for c in w.clients:
        c.close()
    await asyncio.sleep(0.2)
    if msg[0] != "go":
        pipe.send(("result", w.result()))


def _worker_entry(spec: Spec, wid: int, pipe: Pipe) -> None:
    try:
        asyncio.run(_worker_async(spec, wid, pipe))
    except Exception as exc:  # report, never hang the coordinator
        with contextlib.suppress(Exception):
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


def _wait_all(pipes: list[Pipe], kind: str, timeout: float) -> list[Any]:
    """One message of `kind` from every worker, within `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    got: dict[int, Any] = {}
    while len(got) < len(pipes):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"workers did not report {kind} within {timeout:.0f} s")
        for p in mp_wait([p for i, p in enumerate(pipes) if i not in got], left):
            assert isinstance(p, Pipe)
            i = pipes.index(p)
            try:
                tag, body = p.recv()
            except EOFError:
                raise RuntimeError(f"worker {i} exited before {kind}") from None
            if tag == "error":
                raise RuntimeError(f"worker {i}: {body}")
            if tag != kind:
                raise RuntimeError(f"worker {i}: expected {kind}, got {tag}")
            got[i] = body
    return [got[i] for i in range(len(pipes))]


def aggregate(spec: Spec, ready: list[dict[str, Any]], results: list[dict[str, Any]],
              wall: float) -> dict[str, Any]:
    joined: Counter[str] = Counter()
    setup_errors: Counter[str] = Counter()
    setup_retried: Counter[str] = Counter()
    for r in ready:
        joined.update(r["joined"])
        setup_errors.update(r["setup_errors"])
        setup_retried.update(r["setup_retried"])
    acked: Counter[str] = Counter()
    lat = array("q")
    ack_lat = array("q")
    sums: Counter[str] = Counter()
    dicts: dict[str, Counter[str]] = {k: Counter() for k in (
        "send_errors", "server_closes", "protocol_errors", "event_types")}
    for res in results:
        acked.update(res["acked"])
        lat.frombytes(res["lat"])
        ack_lat.frombytes(res["ack_lat"])
        for k in ("sent", "held", "unanswered", "deliveries", "dups", "foreign", "invalid",
                  "validated", "other_events", "unmatched_replies", "binary_frames",
                  "lost_conns", "polls", "reads"):
            sums[k] += res[k]
        for k, c in dicts.items():
            c.update(res[k])
    expected = sum(n * joined[room] for room, n in acked.items())
    unique = sums["deliveries"] - sums["dups"]
    out: dict[str, Any] = {
        "mode": spec.mode, "conns": len(spec.rooms) * spec.subs,
        "ready": sum(r["ready"] for r in ready),
        "deflate_conns": sum(r["deflate_conns"] for r in ready),
        "setup_s": max((r["setup_s"] for r in ready), default=0.0),
        "setup_errors": dict(setup_errors), "setup_retried": dict(setup_retried),
        "duration_s": spec.duration, "wall_s": wall,
        "acked": sum(acked.values()), "expected": expected, "lost": max(0, expected - unique),
        "extra": max(0, unique - expected),
        "latency_ms": summarize_us(list(lat)), "ack_ms": summarize_us(list(ack_lat)),
    }
    out.update(sums)
    out.update({k: dict(c) for k, c in dicts.items()})
    if spec.duration > 0:
        out["deliveries_per_s"] = sums["deliveries"] / spec.duration
        out["sent_per_s"] = sums["sent"] / spec.duration
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.loadgen '<spec JSON>'", file=sys.stderr)
        return 2
    spec = Spec.from_json(args[0])
    ctx = mp.get_context("fork")
    pipes: list[Pipe] = []
    procs = []
    for wid in range(spec.workers):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_worker_entry, args=(spec, wid, child), daemon=True,
                        name=f"loadgen-{wid}")
        p.start()
        child.close()
        pipes.append(parent)
        procs.append(p)
    try:
        ready = _wait_all(pipes, "ready", spec.setup_timeout + 60)
        summary = {"conns": sum(r["conns"] for r in ready),
                   "ready": sum(r["ready"] for r in ready),
                   "setup_s": max(r["setup_s"] for r in ready),
                   "setup_errors": dict(sum((Counter(r["setup_errors"]) for r in ready),
                                            Counter()))}
        print("READY " + json.dumps(summary), flush=True)
        line = sys.stdin.readline()  # the harness's cue; EOF means it went away
        t_start = time.monotonic()
        if line.strip() == "GO" and spec.mode != "idle":
            t0 = time.monotonic_ns() + 200_000_000
            for p in pipes:
                p.send(("go", t0))
            _wait_all(pipes, "done", spec.duration + spec.drain_max + 60)
            print("DONE", flush=True)
            results = _wait_all(pipes, "result", 60)
            for p in pipes:
                p.send(("stop", None))
        else:
            for p in pipes:
                p.send(("stop", None))
            results = _wait_all(pipes, "result", 60)
            print("DONE", flush=True)
        out = aggregate(spec, ready, results, time.monotonic() - t_start)
        print("RESULT " + json.dumps(out), flush=True)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
                p.join(5)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
