"""What a node adds to run in production: metrics, request logs, limits, start-up checks.

Kept out of app.py so the application factory stays a list of routes; app.py
calls `on_start` / `on_stop` from its lifespan and mounts `metrics_endpoint`.
"""

from __future__ import annotations

import logging

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from chatserver import metrics
from chatserver.broker import BrokerUnavailable
from chatserver.broker.limits import ConnectionLimits, maxmemory_policy
from chatserver.config import Config
from chatserver.logs import RequestLogMiddleware
from chatserver.proxy import check_trusted
from chatserver.services import Services

log = logging.getLogger("chatserver.production")

CONN_LIMITS = "conn_limits"  # key in Services.extras


async def metrics_endpoint(request: Request) -> Response:
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


def middleware(config: Config) -> list[Middleware]:
    bad = check_trusted(config.server.trusted_proxies)
    if bad:
        log.warning("ignoring server.trusted_proxies entries that are not addresses",
                    extra={"entries": bad})
    return [Middleware(RequestLogMiddleware, trusted_proxies=config.server.trusted_proxies)]


async def check_redis_policy(services: Services) -> None:
    """Warn when Redis may evict keys: history, sessions and limits would vanish silently."""
    try:
        policy = await maxmemory_policy(services.broker)
    except BrokerUnavailable:
        log.warning("could not check redis maxmemory-policy: redis unreachable")
        return
    if policy is None:
        log.warning("could not check redis maxmemory-policy (CONFIG GET refused); "
                    "make sure it is noeviction")
    elif policy != "noeviction":
        log.warning("redis maxmemory-policy is not noeviction: it may evict history, "
                    "sessions and limits under memory pressure", extra={"policy": policy})


async def on_start(services: Services) -> None:
    metrics.bind(services.hub)
    await check_redis_policy(services)
    lim = services.config.limits
    limits = ConnectionLimits(services.broker, lim.max_connections_per_user,
                              lim.max_connections_per_address)
    await limits.start()
    services.extras[CONN_LIMITS] = limits


async def on_stop(services: Services) -> None:
    limits = services.extras.pop(CONN_LIMITS, None)
    if isinstance(limits, ConnectionLimits):
        await limits.stop()


def connection_limits(services: Services) -> ConnectionLimits | None:
    limits = services.extras.get(CONN_LIMITS)
    return limits if isinstance(limits, ConnectionLimits) else None
