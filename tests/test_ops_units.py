"""Pure pieces of the operations work: proxy address rules, log format, metrics API."""

from __future__ import annotations

import json
import logging

from chatserver import metrics
from chatserver.logs import JsonFormatter, bind_request
from chatserver.proxy import check_trusted, client_address

TRUSTED = ["127.0.0.1", "10.0.0.0/8", "::1"]


def test_untrusted_peer_headers_are_ignored() -> None:
    assert client_address(("198.51.100.7", 5000), {"x-forwarded-for": "1.2.3.4"},
                          TRUSTED) == "198.51.100.7"
    assert client_address(("127.0.0.1", 5000), {"x-forwarded-for": "1.2.3.4"},
                          []) == "127.0.0.1"


def test_trusted_chain_is_read_from_the_right() -> None:
    headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.9, 10.1.2.3"}
    assert client_address(("127.0.0.1", 1), headers, TRUSTED) == "203.0.113.9"


def test_forwarded_header_with_ports_and_ipv6() -> None:
    headers = {"forwarded": 'for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"'}
    assert client_address(("10.0.0.2", 1), headers, TRUSTED) == "2001:db8::1"
    # X-Forwarded-For wins when both are present
    headers["x-forwarded-for"] = "192.0.2.99"
    assert client_address(("10.0.0.2", 1), headers, TRUSTED) == "192.0.2.99"


def test_garbage_hops_stop_the_walk() -> None:
    for bad in ("unknown", "_hidden", "not an ip", "", "1.2.3.4.5"):
        got = client_address(("127.0.0.1", 1), {"x-forwarded-for": f"{bad}, 10.0.0.9"},
                             TRUSTED)
        assert got == "10.0.0.9", bad
    assert client_address(None, {}, TRUSTED) == "unknown"


def test_all_hops_trusted_gives_the_leftmost() -> None:
    assert client_address(("127.0.0.1", 1), {"x-forwarded-for": "10.0.0.1, 10.0.0.2"},
                          TRUSTED) == "10.0.0.1"


def test_ipv4_mapped_peer_and_bad_entries() -> None:
    assert client_address(("::ffff:127.0.0.1", 1), {"x-forwarded-for": "192.0.2.1"},
                          TRUSTED) == "192.0.2.1"
    assert check_trusted(["10.0.0.0/8", "nonsense", "::1"]) == ["nonsense"]
    assert client_address(("127.0.0.1", 1), {"x-forwarded-for": "192.0.2.1"},
                          ["nonsense"]) == "127.0.0.1"


def test_log_lines_drop_secrets_and_carry_request_context() -> None:
    record = logging.LogRecord("chatserver.x", logging.INFO, __file__, 1, "did a thing", (),
                               None)
    record.text = "private words"
    record.token = "t0k3n"
    record.password = "hunter22"
    record.room = "general"
    bind_request("rid123", "192.0.2.5")
    out = json.loads(JsonFormatter().format(record))
    assert out["event"] == "did a thing" and out["room"] == "general"
    assert out["rid"] == "rid123" and out["addr"] == "192.0.2.5"
    assert not {"text", "token", "password"} & set(out)


def test_metrics_api_for_the_moderation_pipeline() -> None:
    metrics.flag("self_harm", "high")
    metrics.held()
    metrics.escalation()
    metrics.webhook_failure()
    metrics.observe_fanout("1700000000000-0", now=1700000000.25)
    metrics.observe_fanout("garbage")
    text = metrics.render().decode()
    assert 'chatserver_flags_total{category="self_harm",severity="high"}' in text
    for name in ("chatserver_held_messages_total", "chatserver_escalations_total",
                 "chatserver_webhook_failures_total"):
        assert name in text
    assert "chatserver_fanout_latency_seconds_bucket" in text
