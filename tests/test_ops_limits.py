"""Limits that hold across nodes: connections per user / address, the send rate."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.client import Client

pytestmark = pytest.mark.asyncio


async def refused_hello(url: str, hello: dict[str, object]) -> tuple[dict[str, object], int]:
    """Connect, say hello, expect a refusal; (error, close code)."""
    c = await Client.connect(url, hello=False)
    reply = await c.request("hello", **hello)
    assert reply["ok"] is False, reply
    code, _ = await c.closed()
    assert code is not None
    return reply["error"], code


async def test_connections_per_user_across_nodes(start_node) -> None:
    a = start_node(limits_max_connections_per_user=2)
    b = start_node(limits_max_connections_per_user=2)
    first = await Client.connect(a.ws_url, guest="many")
    second = await Client.connect(b.ws_url, hello={"token": first.token})
    err, code = await refused_hello(a.ws_url, {"token": first.token})
    assert err["code"] == "too_many_connections" and code == 4029
    err, code = await refused_hello(b.ws_url, {"token": first.token})
    assert err["code"] == "too_many_connections" and code == 4029
    # closing one frees its slot (nothing leaks), on either node
    await second.close()
    for _ in range(50):
        c = await Client.connect(a.ws_url, hello=False)
        reply = await c.request("hello", token=first.token)
        if reply["ok"]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("slot never freed")
    await c.close()
    await first.close()


async def test_connections_per_address_and_node_shutdown_frees_them(start_node) -> None:
    a = start_node(limits_max_connections_per_address=3)
    b = start_node(limits_max_connections_per_address=3)
    on_a = [await Client.connect(a.ws_url, guest=f"g{i}") for i in range(2)]
    on_b = await Client.connect(b.ws_url, guest="g2")
    err, code = await refused_hello(b.ws_url, {"guest": {"handle": "g3"}})
    assert err["code"] == "too_many_connections" and code == 4029
    # a node that goes away takes its connections out of the count
    assert a.stop() == 0
    for c in on_a:
        await c.closed()
    more = [await Client.connect(b.ws_url, guest=f"h{i}") for i in range(2)]
    err, _ = await refused_hello(b.ws_url, {"guest": {"handle": "h3"}})
    assert err["code"] == "too_many_connections"
    for c in [on_b, *more]:
        await c.close()


async def test_send_rate_is_shared_by_nodes(start_node) -> None:
    a = start_node(limits_send_rate=0.01, limits_send_burst=4)
    b = start_node(limits_send_rate=0.01, limits_send_burst=4)
    one = await Client.connect(a.ws_url, guest="fast")
    two = await Client.connect(b.ws_url, hello={"token": one.token})
    await one.ok("join", room="general")
    await two.ok("join", room="general")
    for i in range(2):
        await one.ok("send", room="general", text=f"a{i}")
        await two.ok("send", room="general", text=f"b{i}")
    for c in (one, two):
        reply = await c.request("send", room="general", text="over")
        assert reply["error"]["code"] == "rate_limited"
        assert reply["error"]["retry_after"] > 0
    await one.close()
    await two.close()


async def test_refused_hello_closes_without_chatting(start_node) -> None:
    a = start_node(limits_max_connections_per_user=1)
    first = await Client.connect(a.ws_url, guest="solo")
    ws = await websockets.connect(a.ws_url, subprotocols=["peerchat.v1"])
    await ws.send(json.dumps({"op": "hello", "ref": "h", "token": first.token}))
    reply = await ws.recv()
    assert "too_many_connections" in reply
    await ws.wait_closed()
    assert ws.close_code == 4029
    await first.close()
