"""Structured logs: one JSON object per line, never message text or secrets.

Every line written while a connection or an HTTP request is being handled
carries its request id (`rid`) and client address (`addr`) from a context
variable, so one client's story can be followed with `grep` without each
call site passing them along.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import sys
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatserver.proxy import client_address

# (request id, client address) of the connection or request being served.
_CONTEXT: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "chatserver_request", default=None)


def bind_request(rid: str, addr: str) -> None:
    """Tag every log line of the current task (and tasks it starts) with rid/addr."""
    _CONTEXT.set((rid, addr))


def new_request_id() -> str:
    return secrets.token_hex(8)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message",
                                                                          "asctime"}
# Keys that must never reach a log line, whatever a caller passes in `extra`.
_FORBIDDEN = {"text", "password", "token", "cookie", "authorization", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        ctx = _CONTEXT.get()
        if ctx is not None:
            out["rid"], out["addr"] = ctx
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _FORBIDDEN and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.Formatter.converter = time.gmtime


class RequestLogMiddleware:
    """One `http` line per HTTP request (method, path without query, status, ms).

    The query string is left out on purpose: it is where tokens would leak.
    WebSocket scopes only get their context bound; ws.py logs their lifecycle.
    """

    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[str]) -> None:
        self.app = app
        self.trusted = list(trusted_proxies)
        self.log = logging.getLogger("chatserver.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        rid = new_request_id()
        addr = client_address(scope.get("client"), headers, self.trusted)
        bind_request(rid, addr)
        scope.setdefault("state", {})["request_id"] = rid
        scope["state"]["client_address"] = addr
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            extra: dict[str, Any] = {"method": scope.get("method"), "path": scope.get("path"),
                                     "status": status,
                                     "ms": round((time.perf_counter() - started) * 1000, 1)}
            if scope.get("path") not in ("/healthz", "/readyz", "/metrics") or status >= 400:
                self.log.info("http", extra=extra)
