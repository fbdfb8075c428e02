"""`chatserver`: serve a node, manage users, read the audit log, run the detector."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatserver.config import ConfigError, load_config, with_overrides


def _config_path(arg: str | None) -> str | None:
    if arg:
        return arg
    env = os.environ.get("CHATSERVER_CONFIG")
    if env:
        return env
    if os.path.exists("config.toml"):
        return "config.toml"
    # An editable install run from elsewhere: the repository's own config.
    bundled = Path(__file__).resolve().parent.parent / "config.toml"
    return str(bundled) if bundled.exists() else None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after draining; a drained node exits 0 instead."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    from chatserver.app import create_app
    from chatserver.embedded import EmbeddedRedis
    from chatserver.logs import setup_logging

    cfg = load_config(_config_path(args.config))
    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if overrides:
        cfg = with_overrides(cfg, server=overrides)
    setup_logging(cfg.server.log_level)
    embedded = None
    url = cfg.redis.url
    if not url:
        embedded = EmbeddedRedis(cfg.data_path)
        url = embedded.url
    # access_log off: chatserver.logs writes one structured line per request instead
    # (uvicorn's line carries the query string, where secrets could leak).
    common: dict[str, Any] = dict(
        host=cfg.server.host, port=cfg.server.port, log_config=None,
        ws="websockets-sansio", ws_max_size=cfg.limits.max_frame_bytes,
        ws_ping_interval=cfg.server.heartbeat_interval,
        ws_ping_timeout=cfg.server.heartbeat_timeout, ws_per_message_deflate=False,
        lifespan="on", timeout_graceful_shutdown=max(1, round(cfg.server.shutdown_timeout)),
        proxy_headers=False, server_header=False, access_log=False)
    try:
        if args.workers > 1:
            _serve_workers(args, cfg, url, common)
        else:
            server = DrainingServer(uvicorn.Config(create_app(cfg, url), **common))
            server.run()
    finally:
        if embedded is not None:
            embedded.shutdown()
    return 0


def _serve_workers(args: argparse.Namespace, cfg: Any, url: str,
                   common: dict[str, Any]) -> None:
    """N worker processes on one socket, each a node of the same Redis.

    uvicorn's supervisor starts workers with `spawn`, so they rebuild the app
    from an import string; everything they need travels in the environment,
    including the URL of the embedded Redis this parent started.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    path = _config_path(args.config)
    if path:
        os.environ["CHATSERVER_CONFIG"] = str(Path(path).resolve())
    os.environ["CHATSERVER_REDIS_URL"] = url
    os.environ["CHATSERVER_SERVER_HOST"] = cfg.server.host
    os.environ["CHATSERVER_SERVER_PORT"] = str(cfg.server.port)
    config = uvicorn.Config("chatserver.app:create_app_from_env", factory=True,
                            workers=args.workers, **common)
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatserver", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a server node")
    serve.add_argument("--config", help="path to config.toml (default: ./config.toml)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes, each a node of the same Redis (default 1)")
    serve.set_defaults(func=cmd_serve)
    from chatserver.cli_users import add_users_parser

    add_users_parser(sub, _config_path)
    from chatserver.cli_tools import add_tool_parsers

    add_tool_parsers(sub, _config_path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"chatserver: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(main())
