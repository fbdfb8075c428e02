"""The Starlette application: routes, and the node's lifecycle.

The lifespan builds one broker, hub and pipeline per process (a node), and
tears them down in order on shutdown so in-flight work finishes first.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import secrets
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from chatserver import production
from chatserver.accounts import Accounts
from chatserver.api_resources import resources
from chatserver.audit import AUDIT_ROUTES
from chatserver.broker import Broker
from chatserver.broker.moderation import ModerationStore
from chatserver.config import Config, load_config
from chatserver.fastpath import ExposeRawSend
from chatserver.http_accounts import ACCOUNT_ROUTES
from chatserver.hub import Hub
from chatserver.moderators import ModeratorDesk
from chatserver.ops import PEER_OPS
from chatserver.ops_accounts import ACCOUNT_OPS
from chatserver.ops_report import op_report
from chatserver.pipeline import ModerationPipeline, Pipeline
from chatserver.services import Services
from chatserver.sessions import GuestSessions
from chatserver.webapp import web_routes
from chatserver.ws import websocket_endpoint
from moderation.detector import default_detector
from moderation.referrals import default_directory

log = logging.getLogger("chatserver.app")


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
    pipeline: Pipeline = Pipeline()
    if config.moderation.enabled:
        pipeline = ModerationPipeline(config, ModerationStore(broker), default_detector(),
                                      default_directory())
    services = Services(config=config, broker=broker, hub=hub, pipeline=pipeline,
                        guests=GuestSessions(broker, config.auth.guest_ttl))
    services.handlers.update(PEER_OPS)
    services.handlers.update(ACCOUNT_OPS)
    accounts = Accounts(config, broker, services.guests)
    accounts.install(hub)
    services.extras["accounts"] = accounts
    services.handlers["report"] = op_report
    if isinstance(pipeline, ModerationPipeline):
        desk = ModeratorDesk(services, pipeline)
        desk.install()
        hub.on_disconnect.append(desk.forget)
        services.extras["desk"] = desk
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
        await production.on_start(services)
        desk = services.extras.get("desk")
        if desk is not None:
            desk.start()
        # Everything built so far (lexicons, routes, config) lives as long as the
        # process: keep it out of the collector's way, so full collections stay short.
        gc.collect()
        gc.freeze()
        log.info("node started", extra={"node": services.broker.node_id})
        try:
            yield
        finally:
            if desk is not None:
                await desk.stop()
            await production.on_stop(services)
            await services.hub.stop()

    routes = [
        WebSocketRoute("/ws", websocket_endpoint),
        Route("/api/rooms", rooms_list),
        Route("/api/resources", resources),
        *ACCOUNT_ROUTES,
        *AUDIT_ROUTES,
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", production.metrics_endpoint),
        *web_routes(),
    ]
    return Starlette(routes=routes, lifespan=lifespan,
                     middleware=[Middleware(ExposeRawSend), *production.middleware(cfg)])


def create_app_from_env() -> Starlette:
    """Factory for `serve --workers N`: each worker process reads the config itself.

    The parent passes everything through the environment (`CHATSERVER_CONFIG`,
    and `CHATSERVER_REDIS_URL` pointing at its embedded Redis). A configured
    node_id gets the worker's pid appended: two workers must not share one.
    """
    import os

    from chatserver.config import with_overrides
    from chatserver.logs import setup_logging

    cfg = load_config(os.environ.get("CHATSERVER_CONFIG") or None)
    setup_logging(cfg.server.log_level)
    if cfg.server.node_id:
        cfg = with_overrides(cfg, server={"node_id": f"{cfg.server.node_id}-{os.getpid()}"})
    return create_app(cfg)
