"""`report`: a peer asks moderators to look at a message.

Reports of one message merge into one flag with a count; the reporter is
never named in anything the reported user can see (flags go to moderators
only, and do not carry the reporter at all).
"""

from __future__ import annotations

from typing import Any

import msgpack

from chatserver.broker import BrokerUnavailable
from chatserver.connection import Connection
from chatserver.hub import message_event, public_message
from chatserver.pipeline import ModerationPipeline
from chatserver.protocol import OpError, Request
from chatserver.services import Services
from rooms.history import parse_id


async def find_message(s: Services, room: str, message_id: str) -> dict[str, Any] | None:
    """A room message by id, from history or from the held messages."""
    if parse_id(message_id) is not None:
        raw = await s.broker.get_message(room, message_id)
        if raw is None:
            return None
        return public_message(message_event(room, message_id, msgpack.unpackb(raw)))
    pipeline = s.pipeline
    if isinstance(pipeline, ModerationPipeline):
        held = await pipeline.store.get_held(room, message_id)
        if held is not None:
            msg = {k: v for k, v in held.items() if k not in ("uid", "held_at")}
            return {**msg, "id": message_id, "ts": held.get("held_at", 0)}
    return None


async def op_report(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    room, message_id = req.args["room"], req.args["id"]
    if room not in conn.rooms:
        raise OpError("not_joined", "join the room to report its messages")
    reason = str(req.args.get("reason", ""))[:500]
    pipeline = s.pipeline
    if not isinstance(pipeline, ModerationPipeline):
        raise OpError("unavailable", "moderation is switched off on this server")
    assert conn.identity is not None
    try:
        allowed = await pipeline.store.count_report(conn.identity.user_id,
                                                    s.config.moderation.report_rate)
        if not allowed:
            raise OpError("rate_limited", "you have sent many reports; thank you, please wait",
                          retry_after=60.0)
        message = await find_message(s, room, message_id)
        if message is None:
            raise OpError("not_found", "no such message in this room")
        verdict = pipeline.detector.classify(str(message.get("text", "")), room=room)
        severity = verdict.severity.label if verdict.severity.label != "none" else "low"
        categories = list(verdict.categories) or ["reported"]
        flag_id, _ = await pipeline.create_flag(room, message, verdict, source="report",
                                                severity=severity, categories=categories)
        if reason:
            await pipeline.store.add_report_reason(flag_id, reason)
    except BrokerUnavailable:
        raise OpError("unavailable", "the server cannot reach its store; try again") from None
    return {}
