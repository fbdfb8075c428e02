"""Origin checks against cross-site WebSocket hijacking and CSRF (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_allowed(origin: str, host: str | None, allowed: list[str]) -> bool:
    """True when `origin` is listed, or its host[:port] equals the request's Host.

    `Origin: null` (sandboxed frames, file: pages) is always foreign.
    """
    origin = origin.strip()
    if not origin or origin == "null":
        return False
    if origin.rstrip("/") in (a.rstrip("/") for a in allowed):
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if host is None:
        return False
    default_port = {"http": 80, "https": 443}[parts.scheme]
    return _norm(parts.netloc, default_port) == _norm(host, default_port)


def _norm(netloc: str, default_port: int) -> str:
    """host[:port], lower-case, without the scheme's default port."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        host, _, rest = netloc.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = netloc.partition(":")
    if port.isdigit() and int(port) == default_port:
        port = ""
    return f"{host}:{port}" if port else host
