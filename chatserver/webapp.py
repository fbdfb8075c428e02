"""The browser pages from `web/`, served from the app's own origin with a strict CSP."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def _page(name: str) -> Route:
    async def page(request: Request) -> Response:
        return FileResponse(WEB_DIR / name, headers=SECURITY_HEADERS)

    return Route("/" if name == "index.html" else "/mod", page)


class _SecureStatic:
    """StaticFiles with the same security headers as the pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]


def web_routes() -> list[Route | Mount]:
    if not WEB_DIR.is_dir():
        return []
    static = StaticFiles(directory=WEB_DIR / "static")
    return [_page("index.html"), _page("mod.html"),
            Mount("/static", app=_SecureStatic(static))]
