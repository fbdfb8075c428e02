"""Room order and resume decisions on stream ids: pure functions, unit-tested.

Message ids are Redis stream positions "<ms>-<seq>". Clients treat them as
opaque; the server compares them numerically to merge the history it read
with live messages that arrived meanwhile (subscribe first, read, merge).
"""

from __future__ import annotations

from dataclasses import dataclass

StreamPos = tuple[int, int]


def parse_id(value: str) -> StreamPos | None:
    """(ms, seq) for a well-formed id, else None."""
    ms, sep, seq = value.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit() or len(ms) > 20 or len(seq) > 20:
        return None
    return int(ms), int(seq)


def pos(value: str) -> StreamPos:
    """Parse an id the server itself produced (trusted)."""
    parsed = parse_id(value)
    if parsed is None:
        raise ValueError(f"not a stream id: {value!r}")
    return parsed


def ts_of(message_id: str) -> int:
    """A message's unix-ms timestamp is the time part of its stream id."""
    return pos(message_id)[0]


@dataclass(frozen=True, slots=True)
class Recovery:
    """What `join` with `since` should return."""

    recovered: bool
    # True: return `missed`; False: fall back to the latest `on_join` messages.


def decide_recovery(since: StreamPos, first_retained: StreamPos | None, missed_count: int,
                    max_recover: int) -> Recovery:
    """Recovered only when nothing between `since` and now can have been trimmed away.

    `since` older than the first retained message means the client's last
    message is gone, so messages after it may be gone too; an empty stream
    with a `since` means everything was trimmed. More than `max_recover`
    missed messages is treated as a fresh join.
    """
    if first_retained is None:
        return Recovery(recovered=False)
    if since < first_retained:
        return Recovery(recovered=False)
    return Recovery(recovered=missed_count <= max_recover)


class Cursor:
    """The last id delivered to one member of one room: drops repeats, keeps order.

    Live messages arrive on the pub/sub channel in stream order; history reads
    may overlap them. Only ids strictly after the cursor are delivered.
    """

    __slots__ = ("last",)

    def __init__(self, last: StreamPos = (0, 0)) -> None:
        self.last = last

    def advance(self, position: StreamPos) -> bool:
        """True (and move) when `position` is new for this member."""
        if position <= self.last:
            return False
        self.last = position
        return True
