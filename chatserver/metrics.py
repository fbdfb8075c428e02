"""Prometheus metrics of one node (one process), served at `GET /metrics`.

The hot path pays almost nothing: the hub and the op handlers already count
into `hub.stats` (plain dict increments), and a collector turns those into
Prometheus counters only when `/metrics` is scraped. The only per-message
call is one histogram observation per fan-out (not per recipient).

The moderation pipeline reports through `flag()`, `held()`, `escalation()`
and `webhook_failure()`, so it never has to know about Prometheus.

Each process has its own registry: with `serve --workers N` every worker is a
node with its own numbers (scrape each node, or run one node per process).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# `_created` series double the output and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=False)

_FLAGS = Counter("chatserver_flags", "Moderation flags raised, by category and severity.",
                 ["category", "severity"], registry=REGISTRY)
_HELD = Counter("chatserver_held_messages", "Messages held for moderator review.",
                registry=REGISTRY)
_ESCALATIONS = Counter("chatserver_escalations", "Flags escalated to the on-call webhook.",
                       registry=REGISTRY)
_WEBHOOK_FAILURES = Counter("chatserver_webhook_failures",
                            "On-call webhook calls that failed.", registry=REGISTRY)
# Publish (the Redis time in the message id) to local delivery. Buckets span
# a healthy sub-millisecond hop up to a resync after a Redis outage.
_FANOUT = Histogram("chatserver_fanout_latency_seconds",
                    "From publish (message id time) to this node's fan-out.",
                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                             0.5, 1.0, 2.5, 5.0, 10.0, 30.0), registry=REGISTRY)

# hub.stats key -> (metric name, help). Counters the hub and handlers keep.
_STAT_COUNTERS: dict[str, tuple[str, str]] = {
    "connections": ("chatserver_connections_accepted", "WebSocket connections accepted."),
    "joins": ("chatserver_joins", "Successful room joins."),
    "messages_in": ("chatserver_messages_in", "Messages accepted from clients and published."),
    "deliveries": ("chatserver_messages_out", "Message frames queued to clients by fan-out."),
    "slow_consumers": ("chatserver_slow_consumer_disconnects",
                       "Connections closed with 4008 because their queue overflowed."),
    "rate_limited": ("chatserver_rate_limited", "Sends refused by the rate limit or slow mode."),
    "connection_limited": ("chatserver_connection_limited",
                           "Hellos refused by the per-user / per-address connection limits."),
}


def flag(category: str, severity: str) -> None:
    """Count one moderation flag (one call per category of the flag)."""
    _FLAGS.labels(category, severity).inc()


def held() -> None:
    _HELD.inc()


def escalation() -> None:
    _ESCALATIONS.inc()


def webhook_failure() -> None:
    _WEBHOOK_FAILURES.inc()


def observe_fanout(message_id: str, now: float | None = None) -> None:
    """Record publish-to-delivery latency; the id's ms part is the Redis publish time."""
    try:
        ms = int(message_id.split("-", 1)[0])
    except ValueError:
        return
    _FANOUT.observe(max(0.0, (time.time() if now is None else now) - ms / 1000))


class _NodeView(Protocol):
    """What the collector reads from a running node (the hub and its broker)."""

    stats: dict[str, int]
    connections: dict[str, Any]
    rooms: dict[str, dict[str, Any]]
    broker: Any


class _HubCollector(Collector):
    def __init__(self, hub: _NodeView) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        yield GaugeMetricFamily("chatserver_connections", "Open connections past hello.",
                                value=len(hub.connections))
        yield GaugeMetricFamily("chatserver_rooms_active", "Rooms with members on this node.",
                                value=sum(1 for m in hub.rooms.values() if m))
        yield GaugeMetricFamily("chatserver_broker_ready",
                                "1 while the Redis subscription is up.",
                                value=1 if hub.broker.ready else 0)
        yield CounterMetricFamily("chatserver_redis_reconnects",
                                  "Times the Redis subscription was re-established.",
                                  value=hub.broker.reconnects)
        stats = hub.stats
        for key, (name, doc) in _STAT_COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=stats.get(key, 0))


_bound: _HubCollector | None = None


def bind(hub: _NodeView) -> None:
    """Expose this node's hub counters (one hub per process; a new one replaces it)."""
    global _bound
    if _bound is not None:
        REGISTRY.unregister(_bound)
    _bound = _HubCollector(hub)
    REGISTRY.register(_bound)


def render() -> bytes:
    return generate_latest(REGISTRY)
