"""The moderation pipeline as the hub sees it: screen before, act after.

`screen` is synchronous and pure work (the detector); the I/O it implies
(support events, flags, held messages) happens in `hold` and
`after_publish`, so a message's path gains no Redis round trip unless
something was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatserver.connection import Connection
from chatserver.protocol import OpError
from rooms.registry import Room


@dataclass(frozen=True, slots=True)
class Screening:
    cw: str | None = None
    hold: bool = False
    verdict: Any = None
    decision: Any = None


CLEAR = Screening()


class Pipeline:
    """No-op pipeline: every message is delivered as written."""

    def screen(self, conn: Connection, room: Room, text: str) -> Screening:
        return CLEAR

    async def hold(self, conn: Connection, room: Room, text: str, nonce: str | None,
                   screening: Screening) -> dict[str, Any]:
        raise OpError("internal", "holding is not available")

    async def after_publish(self, conn: Connection, room: Room, text: str, message_id: str,
                            screening: Screening) -> None:
        return None
