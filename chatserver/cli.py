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
    try:
        app = create_app(cfg, url)
        server = DrainingServer(uvicorn.Config(
            app, host=cfg.server.host, port=cfg.server.port, log_config=None,
            ws="websockets-sansio", ws_max_size=cfg.limits.max_frame_bytes,
            ws_ping_interval=cfg.server.heartbeat_interval,
            ws_ping_timeout=cfg.server.heartbeat_timeout, ws_per_message_deflate=True,
            lifespan="on", timeout_graceful_shutdown=max(1, round(cfg.server.shutdown_timeout)),
            proxy_headers=False, server_header=False))
        server.run()
    finally:
        if embedded is not None:
            embedded.shutdown()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatserver", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a server node")
    serve.add_argument("--config", help="path to config.toml (default: ./config.toml)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
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
