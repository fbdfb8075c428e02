"""The `send` op: clean, screen, then append-and-publish in one Redis step."""

from __future__ import annotations

import logging
from typing import Any

import msgpack

from chatserver.broker import BrokerUnavailable
from chatserver.connection import Connection
from chatserver.hub import Hub
from chatserver.pipeline import Pipeline, Screening
from chatserver.protocol import OpError
from rooms.history import ts_of
from rooms.text import TextError, clean_text

log = logging.getLogger("chatserver.send")

_RETRYABLE = {"rate": "you are sending faster than this room allows",
              "slow": "slow mode is on in this room"}


def pack_body(slug: str, conn: Connection, text: str, cw: str | None) -> bytes:
    assert conn.identity is not None
    body: dict[str, Any] = {"room": slug, "from": conn.identity.public(), "text": text,
                            "uid": conn.identity.user_id}
    if cw:
        body["cw"] = cw
    data = msgpack.packb(body, use_bin_type=True)
    assert isinstance(data, bytes)
    return data


async def send_message(hub: Hub, pipeline: Pipeline, conn: Connection, slug: str, text: str,
                       nonce: str | None) -> dict[str, Any]:
    """Publish a message (or hold it) and return the reply's result fields."""
    assert conn.identity is not None
    if slug not in conn.rooms:
        raise OpError("not_joined", f"not in room {slug[:40]!r}")
    if nonce is not None and not 1 <= len(nonce) <= 128:
        raise OpError("bad_request", "nonce must be 1 to 128 characters")
    try:
        cleaned = clean_text(text, hub.config.limits.max_message_chars)
    except TextError as exc:
        raise OpError(exc.code, exc.message) from None
    room = hub.room_or_error(slug)
    screening: Screening = pipeline.screen(conn, room, cleaned)
    lim = hub.config.limits
    hist = hub.config.history
    try:
        outcome = await hub.broker.send(
            slug, pack_body(slug, conn, cleaned, screening.cw), user_id=conn.identity.user_id,
            nonce=nonce, is_staff=conn.identity.is_staff, enforce=True, rate=lim.send_rate,
            burst=lim.send_burst, maxlen=hist.max_messages,
            retention_ms=int(hist.retention_days * 86400 * 1000), check_only=screening.hold,
            min_slow=hub.config.moderation.unstaffed_slowmode_seconds if hub.unstaffed else 0.0)
        if outcome.status == "allowed":
            return await pipeline.hold(conn, room, cleaned, nonce, screening)
    except BrokerUnavailable:
        raise OpError("unavailable", "the message broker is unreachable; nothing was sent") \
            from None
    if outcome.status == "muted":
        raise OpError("muted", "you are muted in this community for now")
    if outcome.status == "locked":
        raise OpError("locked", "this room is locked by the moderators")
    if outcome.status in _RETRYABLE:
        hub.stats["rate_limited"] += 1
        raise OpError("rate_limited", _RETRYABLE[outcome.status],
                      retry_after=max(outcome.retry_ms, 1) / 1000)
    if outcome.status == "dup" and outcome.id.startswith("held-"):
        return {"id": outcome.id, "ts": int(outcome.id.split("-")[1]), "status": "held"}
    if outcome.status == "ok":
        try:
            await pipeline.after_publish(conn, room, cleaned, outcome.id, screening)
        except BrokerUnavailable:
            # The message is out; only the flag could not be stored. Say so in the log
            # (no text), never as a failed send: a retry would not change anything.
            log.error("flag not stored: broker unavailable", extra={"room": slug})
    return {"id": outcome.id, "ts": ts_of(outcome.id), "status": "delivered"}
