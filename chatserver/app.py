"""The Starlette application: routes, and the node's lifecycle.

The lifespan builds one broker, hub and pipeline per process (a node), and
tears them down in order on shutdown so in-flight work finishes first.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from chatserver.broker import Broker
from chatserver.config import Config, load_config
from chatserver.hub import Hub
from chatserver.ops import PEER_OPS
from chatserver.pipeline import Pipeline
from chatserver.services import Services
from chatserver.sessions import GuestSessions
from chatserver.ws import websocket_endpoint

log = logging.getLogger("chatserver.app")
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


async def rooms_list(request: Request) -> Response:
    services: Services = request.app.state.services
    return JSONResponse([room.public() for room in services.config.rooms])


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    if services.broker.ready and await services.broker.ping():
        return PlainTextResponse("ready")
    return PlainTextResponse("not ready", status_code=503)


def build_services(config: Config, redis_url: str) -> Services:
    node_id = config.server.node_id or secrets.token_hex(4)
    broker = Broker(redis_url, config.redis.prefix, node_id)
    hub = Hub(config, broker)
    services = Services(config=config, broker=broker, hub=hub, pipeline=Pipeline(),
                        guests=GuestSessions(broker, config.auth.guest_ttl))
    services.handlers.update(PEER_OPS)
    return services


def create_app(config: Config | None = None, redis_url: str | None = None) -> Starlette:
    """Build the app; `redis_url` defaults to the config's (the CLI passes the embedded one)."""
    cfg = config or load_config(None)
    url = redis_url or cfg.redis.url
    if not url:
        raise RuntimeError("no redis URL: the CLI starts the embedded Redis")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = build_services(cfg, url)
        app.state.services = services
        await services.hub.start()
        log.info("node started", extra={"node": services.broker.node_id})
        try:
            yield
        finally:
            await services.hub.stop()

    routes = [
        WebSocketRoute("/ws", websocket_endpoint),
        Route("/api/rooms", rooms_list),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
