"""Topic rooms as configured, and who may enter which.

Rooms are data (config.toml); adding a room is a config change only. The
admission rule lives here, in one pure function, so every node decides the
same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rooms.identity import Identity

AUDIENCES = ("all", "youth", "adults")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True, slots=True)
class Room:
    slug: str
    title: str
    description: str
    guidelines: str
    audience: str = "all"
    language: str = "en"
    guests: bool = True
    topic: str = ""
    policy: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SLUG.match(self.slug):
            raise ValueError("slug must be lower-case letters, digits and '-', at most 40")
        if self.audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")

    def public(self) -> dict[str, object]:
        """The `room` object of `join` and `GET /api/rooms`."""
        return {"slug": self.slug, "title": self.title, "description": self.description,
                "guidelines": self.guidelines, "audience": self.audience,
                "language": self.language}


def admission_error(room: Room, who: Identity) -> str | None:
    """None when `who` may join `room`, else the protocol error code (`forbidden`)."""
    if who.is_staff:
        return None
    if who.is_guest and not room.guests:
        return "forbidden"
    if room.audience == "youth" and who.age_band != "13-17":
        return "forbidden"
    if room.audience == "adults" and who.age_band != "18+":
        return "forbidden"
    return None


class RoomRegistry:
    """The configured rooms, in config order."""

    def __init__(self, rooms: Iterable[Room]) -> None:
        self._rooms: dict[str, Room] = {}
        for room in rooms:
            if room.slug in self._rooms:
                raise ValueError(f"duplicate room {room.slug}")
            self._rooms[room.slug] = room

    def __iter__(self) -> Iterator[Room]:
        return iter(self._rooms.values())

    def __len__(self) -> int:
        return len(self._rooms)

    def get(self, slug: str) -> Room | None:
        return self._rooms.get(slug)

    def joinable(self, who: Identity) -> list[str]:
        return [r.slug for r in self if admission_error(r, who) is None]
