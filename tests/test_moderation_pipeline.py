"""The moderation pipeline end to end on real nodes: support, flags, holds."""

from __future__ import annotations

import json

import httpx
import pytest
import redis.asyncio as aioredis

from tests.client import Client

pytestmark = pytest.mark.asyncio


async def flags_in_queue(redis_url: str, prefix: str) -> list[dict]:
    r = aioredis.Redis.from_url(redis_url)
    try:
        ids = await r.zrange(f"{prefix}flags:queue", 0, -1)
        out = []
        for fid in ids:
            h = await r.hgetall(f"{prefix}flag:{fid.decode()}")
            flag = json.loads(h[b"data"])
            flag["reports"] = int(h.get(b"reports", b"0"))
            out.append(flag)
        return out
    finally:
        await r.aclose()


async def test_overdose_message_gets_writer_support_card_and_a_flag(
        start_node, redis_url, key_prefix) -> None:
    a = start_node()
    b = start_node()
    writer = await Client.connect(a.ws_url, hello={"guest": {"handle": "w"},
                                                   "locale": "en-US"})
    other = await Client.connect(b.ws_url, guest="peer")
    await writer.ok("join", room="substance-use")
    await other.ok("join", room="substance-use")
    text = "took all my pills an hour ago"
    reply = await writer.ok("send", room="substance-use", text=text)
    assert reply["status"] == "delivered"  # a person's own crisis is never silenced
    support = await writer.next_event("support")
    assert support["severity"] == "imminent"
    assert {"overdose_risk", "self_harm_risk"} <= set(support["categories"])
    names = [r["name"] for r in support["resources"]]
    assert support["resources"][0]["phone"] == "911"  # emergency first when imminent
    assert any("SAMHSA" in n for n in names) and any("988" in n for n in names)
    assert text not in support["text"]
    # the other member sees the message but never the support card
    got = await other.next_event("message")
    assert got["id"] == reply["id"]
    marker = await writer.ok("send", room="substance-use", text="thanks all")
    await other.next_event("message", where=lambda f: f["id"] == marker["id"])
    assert not any(f.get("type") == "support" for f in other.seen)
    flags = await flags_in_queue(redis_url, key_prefix)
    assert len(flags) == 1
    flag = flags[0]
    assert flag["severity"] == "imminent" and flag["source"] == "detector"
    assert flag["message"]["id"] == reply["id"] and flag["message"]["text"] == text
    assert "uid" not in flag["message"]
    assert "held" not in flag  # delivered: nothing to approve
    ev = flag["evidence"][0]
    assert 0 <= ev["start"] < ev["end"] <= len(text)
    for c in (writer, other):
        await c.close()


async def test_idiom_passes_untouched(start_node, redis_url, key_prefix) -> None:
    node = start_node()
    c = await Client.connect(node.ws_url)
    await c.ok("join", room="general")
    reply = await c.ok("send", room="general", text="this exam is killing me")
    msg = await c.next_event("message", where=lambda f: f["id"] == reply["id"])
    assert "cw" not in msg
    marker = await c.ok("send", room="general", text="ok")
    await c.next_event("message", where=lambda f: f["id"] == marker["id"])
    assert not any(f.get("type") == "support" for f in c.seen)
    assert await flags_in_queue(redis_url, key_prefix) == []
    await c.close()


async def test_urging_self_harm_is_held_and_nobody_sees_it(start_node, redis_url,
                                                           key_prefix) -> None:
    node = start_node()
    bully = await Client.connect(node.ws_url, guest="bully")
    peer = await Client.connect(node.ws_url, guest="peer")
    await bully.ok("join", room="general")
    await peer.ok("join", room="general")
    reply = await bully.ok("send", room="general", text="nobody would miss you, just kys",
                           nonce="n1")
    assert reply["status"] == "held"
    again = await bully.ok("send", room="general", text="nobody would miss you, just kys",
                           nonce="n1")
    assert again["id"] == reply["id"] and again["status"] == "held"
    marker = await bully.ok("send", room="general", text="hello")
    await peer.next_event("message", where=lambda f: f["id"] == marker["id"])
    texts = [f["text"] for f in peer.seen if f.get("type") == "message"]
    assert texts == ["hello"]
    joined = await peer.ok("join", room="general")
    assert [m["text"] for m in joined["messages"]] == ["hello"]
    flags = await flags_in_queue(redis_url, key_prefix)
    assert [f["message"]["id"] for f in flags] == [reply["id"]]
    assert "encourages_self_harm" in flags[0]["categories"]
    assert flags[0]["held"] is True  # moderators can approve it
    for c in (bully, peer):
        await c.close()


async def test_reports_merge_into_one_flag(start_node, redis_url, key_prefix) -> None:
    node = start_node()
    writer = await Client.connect(node.ws_url, guest="writer")
    r1 = await Client.connect(node.ws_url, guest="rep1")
    r2 = await Client.connect(node.ws_url, guest="rep2")
    for c in (writer, r1, r2):
        await c.ok("join", room="ptsd")
    sent = await writer.ok("send", room="ptsd", text="you people are pathetic")
    await r1.ok("report", room="ptsd", id=sent["id"], reason="rude")
    await r2.ok("report", room="ptsd", id=sent["id"])
    err = await r1.request("report", room="ptsd", id="1-0")
    assert err["error"]["code"] == "not_found"
    flags = await flags_in_queue(redis_url, key_prefix)
    assert len(flags) == 1
    assert flags[0]["source"] == "report" and flags[0]["reports"] == 2
    assert flags[0]["message"]["id"] == sent["id"]
    # the reported user hears nothing about it
    seen = json.dumps(writer.seen)
    assert '"flag"' not in seen
    assert r1.user["handle"] not in seen and r2.user["handle"] not in seen
    for c in (writer, r1, r2):
        await c.close()


async def test_resources_api(start_node) -> None:
    node = start_node()
    async with httpx.AsyncClient(base_url=node.url) as http:
        res = await http.get("/api/resources", params={"room": "substance-use", "region": "US"})
        assert res.status_code == 200
        names = [r["name"] for r in res.json()["resources"]]
        assert any("SAMHSA" in n for n in names)
        res = await http.get("/api/resources", params={"room": "general", "region": "GB"})
        assert any(r["name"] == "Samaritans" for r in res.json()["resources"])
        res = await http.get("/api/resources", params={"room": "nope"})
        assert res.status_code == 404
        res = await http.get("/api/resources", params={"room": "general", "region": "USA"})
        assert res.status_code == 400
