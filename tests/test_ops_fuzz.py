"""Hostile input: random and malformed frames never crash a node or grow it unboundedly."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from chatserver.protocol import OPS

# Codes a node may answer to anything a client throws at it (PROTOCOL.md).
ERROR_CODES = {"bad_request", "unauthorized", "not_found", "not_joined", "forbidden",
               "too_long", "rate_limited", "limit_exceeded", "muted", "locked", "conflict",
               "unavailable"}
# Closes the protocol (or RFC 6455) prescribes for bad input; never 1011.
CLOSE_CODES = {1007, 1009, 4001, 4029}

json_leaf = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
             | st.text(max_size=40))
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4)
                          | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                          max_leaves=12)


@st.composite
def op_frames(draw: st.DrawFn) -> str:
    """An object that looks like an op, with arguments of any type."""
    op = draw(st.sampled_from([*OPS, "fly", ""]))
    obj: dict[str, Any] = {"op": op}
    if draw(st.booleans()):
        obj["ref"] = draw(st.text(max_size=10) | json_leaf)
    for name in draw(st.lists(st.sampled_from(["room", "text", "since", "before", "limit",
                                               "token", "guest", "nonce", "id", "handle",
                                               "seconds", "locked"]), max_size=4)):
        obj[name] = draw(json_value)
    return json.dumps(obj)


frames = st.one_of(
    op_frames(),
    json_value.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    # huge numbers: past float range and past Python's int-parsing digit limit
    st.integers(min_value=300, max_value=6000).map(lambda n: '{"op":"ping","ref":"n","x":1'
                                                   + "0" * n + "}"),
    st.sampled_from(['{"op":"ping","ref":"e","x":1e999999}', '{"op":"send","ref":"-1":',
                     "[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000]),
    # deep nesting in msgpack too
    st.integers(min_value=10, max_value=3000).map(lambda n: b"\x91" * n + b"\x01"),
    st.just(msgpack.packb({"op": "hello", "ref": 1})),
    # invalid UTF-8 in a text frame
    st.binary(min_size=1, max_size=50).map(lambda b: ("utf8", b + b"\xff\xfe")),
)


class Session:
    """One long-lived connection, replaced whenever the node closes it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.n = 0

    def fresh(self, hello: bool = True) -> ClientConnection:
        if self.ws is not None:
            self.ws.close()
        self.ws = connect(self.url, subprotocols=["peerchat.v1"],  # type: ignore[list-item]
                          open_timeout=10, max_size=None).__enter__()
        if hello:
            self.ws.send(json.dumps({"op": "hello", "ref": "h", "guest": {"handle": "fz"}}))
            assert json.loads(self.ws.recv(10))["ok"] is True
        return self.ws

    def throw(self, frame: Any, first: bool) -> None:
        if first:
            ws = self.fresh(hello=False)
        else:
            ws = self.ws if self.ws is not None else self.fresh()
            try:
                ws.ping().wait(5)
            except (ConnectionClosed, TimeoutError):
                ws = self.fresh()
        self.n += 1
        try:
            if isinstance(frame, tuple):
                ws.send(frame[1], text=True)
            else:
                ws.send(frame)
            # a sentinel after the frame: every reply before it answers the frame
            ws.send(json.dumps({"op": "ping", "ref": f"sentinel{self.n}"}))
            while True:
                reply = json.loads(ws.recv(10))
                if reply.get("type") != "reply":
                    continue
                if reply.get("ref") == f"sentinel{self.n}":
                    return
                if not reply["ok"]:
                    assert reply["error"]["code"] in ERROR_CODES, reply
                    assert reply["error"]["code"] != "internal", reply
        except ConnectionClosed:
            code = ws.close_code
            assert code in CLOSE_CODES, (code, ws.close_reason, frame)
            self.ws = None


@pytest.fixture
def fuzz_node(start_node):
    return start_node(server_hello_timeout=5, limits_send_rate=1000, limits_send_burst=1000)


def test_random_frames_never_crash_or_leak(fuzz_node) -> None:
    session = Session(fuzz_node.ws_url)
    proc = psutil.Process(fuzz_node.proc.pid)
    session.fresh()
    # warm up every code path once before taking the baseline
    warm = ['{"op":"join","ref":"a","room":"general"}', "nope", "[]",
            '{"op":"send","ref":"b","room":"general","text":"warm"}', b"\x01"]
    for frame in warm * 4:
        session.throw(frame, first=False)
    baseline = proc.memory_info().rss

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(frame=frames, first=st.integers(0, 9).map(lambda n: n == 0))
    def run(frame: Any, first: bool) -> None:
        session.throw(frame, first)

    run()
    assert session.n >= 200
    assert fuzz_node.proc.poll() is None
    growth = proc.memory_info().rss - baseline
    print(f"fuzz: {session.n} frames, RSS {baseline / 1e6:.1f} MB -> +{growth / 1e6:.1f} MB")
    assert growth < 50 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB"
    # and it still serves a fresh client normally
    ws = session.fresh()
    ws.send(json.dumps({"op": "join", "ref": "j", "room": "general"}))
    while True:
        reply = json.loads(ws.recv(10))
        if reply.get("ref") == "j":
            assert reply["ok"] is True
            break
    ws.close()
