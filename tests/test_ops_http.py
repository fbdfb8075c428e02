"""Operations over HTTP: readiness across a Redis outage, metrics, structured logs."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.client import Client
from tests.ops_support import OwnRedis, log_lines, metric, wait_status

pytestmark = pytest.mark.asyncio


@pytest.fixture
def own_redis(tmp_path):
    redis = OwnRedis(tmp_path)
    yield redis
    redis.close()


async def test_readyz_follows_redis_down_and_back(start_node, own_redis) -> None:
    node = start_node(redis_url=own_redis.url)
    assert httpx.get(node.url + "/healthz").status_code == 200
    assert httpx.get(node.url + "/readyz").status_code == 200
    own_redis.stop()
    await wait_status(node.url + "/readyz", 503)
    assert httpx.get(node.url + "/healthz").status_code == 200  # alive, just not ready
    own_redis.start()
    await wait_status(node.url + "/readyz", 200)
    # and it serves again: a fresh client can chat
    c = await Client.connect(node.ws_url, guest="back")
    await c.ok("join", room="general")
    await c.ok("send", room="general", text="after the outage")
    await c.close()


async def test_metrics_count_a_chat(start_node) -> None:
    a = start_node(limits_send_burst=3, limits_send_rate=0.01)
    alice = await Client.connect(a.ws_url, guest="alice")
    bob = await Client.connect(a.ws_url, guest="bob")
    await alice.ok("join", room="general")
    await bob.ok("join", room="general")
    for i in range(3):
        await alice.ok("send", room="general", text=f"m{i}")
    refused = await alice.request("send", room="general", text="one too many")
    assert refused["error"]["code"] == "rate_limited"
    await bob.messages(3, room="general")
    resp = httpx.get(a.url + "/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert metric(text, "chatserver_connections") == 2
    assert metric(text, "chatserver_connections_accepted_total") >= 2
    assert metric(text, "chatserver_joins_total") == 2
    assert metric(text, "chatserver_messages_in_total") == 3
    assert metric(text, "chatserver_messages_out_total") == 6  # 3 messages x 2 members
    assert metric(text, "chatserver_fanout_latency_seconds_count") == 3
    assert metric(text, "chatserver_rate_limited_total") == 1
    assert metric(text, "chatserver_broker_ready") == 1
    assert "chatserver_redis_reconnects_total" in text
    for name in ("chatserver_flags_total", "chatserver_held_messages_total",
                 "chatserver_escalations_total", "chatserver_webhook_failures_total",
                 "chatserver_slow_consumer_disconnects_total"):
        assert name in text
    await alice.close()
    await bob.close()
    for _ in range(100):  # until the node has seen both sockets close
        if metric(httpx.get(a.url + "/metrics").text, "chatserver_connections") == 0:
            break
        await asyncio.sleep(0.05)
    assert metric(httpx.get(a.url + "/metrics").text, "chatserver_connections") == 0


async def test_logs_are_json_with_request_ids_and_no_secrets(start_node) -> None:
    node = start_node()
    secret_text = "my very private sentence 7f3a9"
    c = await Client.connect(node.ws_url, guest="logcheck")
    assert c.token
    await c.ok("join", room="general")
    await c.ok("send", room="general", text=secret_text)
    await c.messages(1)
    await c.close()
    http = httpx.get(node.url + "/api/rooms")
    rid = http.headers["x-request-id"]
    node.stop()
    log = node.log()
    assert secret_text not in log
    assert c.token not in log
    lines = log_lines(log)
    assert lines and all("event" in line and "level" in line for line in lines)
    hello = [line for line in lines if line["event"] == "hello"]
    assert hello and hello[0]["addr"] == "127.0.0.1" and hello[0]["rid"]
    # every line about this connection carries the same request id
    closed = [line for line in lines if line["event"] == "closed"]
    assert closed and closed[0]["rid"] == hello[0]["rid"]
    access = [line for line in lines if line.get("rid") == rid]
    assert access and access[0]["path"] == "/api/rooms" and access[0]["status"] == 200
    # the fixture's redis-server runs with noeviction: no policy warning
    assert not any("maxmemory-policy" in line["event"] for line in lines)


async def test_warns_when_redis_may_evict(start_node, tmp_path) -> None:
    redis = OwnRedis(tmp_path, "--maxmemory-policy", "allkeys-lru")
    try:
        node = start_node(redis_url=redis.url)
        node.stop()
        warned = [line for line in log_lines(node.log())
                  if "maxmemory-policy" in line["event"]]
        assert warned and warned[0]["level"] == "warning"
        assert warned[0]["policy"] == "allkeys-lru"
    finally:
        redis.close()


async def test_says_when_it_cannot_check_the_policy(start_node, tmp_path) -> None:
    redis = OwnRedis(tmp_path, "--rename-command", "CONFIG", "")
    try:
        node = start_node(redis_url=redis.url)
        node.stop()
        assert any("could not check" in line["event"] for line in log_lines(node.log()))
    finally:
        redis.close()
