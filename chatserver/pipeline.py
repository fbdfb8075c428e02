"""The moderation pipeline as the hub sees it: screen before, act after.

`screen` is synchronous and pure (the detector and the room policy), so a
message's path gains no Redis round trip unless something was found. What
a finding implies — the writer's private `support` event, a moderator
flag, holding the message, the risk trajectory — happens in `hold` and
`after_publish`, awaited before the `send` reply so the writer's support
card arrives first.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chatserver import metrics
from chatserver.broker.moderation import ModerationStore, now_ms
from chatserver.config import Config
from chatserver.connection import Connection
from moderation.detector import Detector
from moderation.policy import Decision, RoomPolicy, decide, policy_for_room
from moderation.referrals import Directory, topic_for_room
from moderation.support import support_text
from moderation.trajectory import apply_trajectory
from moderation.verdict import Severity, Verdict
from rooms.history import ts_of
from rooms.registry import Room

log = logging.getLogger("chatserver.moderation")


@dataclass(frozen=True, slots=True)
class Screening:
    cw: str | None = None
    hold: bool = False
    verdict: Verdict | None = None
    decision: Decision | None = None


CLEAR = Screening()


class Pipeline:
    """No-op pipeline (moderation disabled): every message is delivered as written."""

    def screen(self, conn: Connection, room: Room, text: str) -> Screening:
        return CLEAR

    async def hold(self, conn: Connection, room: Room, text: str, nonce: str | None,
                   screening: Screening) -> dict[str, Any]:
        raise AssertionError("the no-op pipeline never holds")

    async def after_publish(self, conn: Connection, room: Room, text: str, message_id: str,
                            screening: Screening) -> None:
        return None


FlagListener = Callable[[dict[str, Any]], Any]


class ModerationPipeline(Pipeline):
    """Detector → policy → support, flags and holds, for every message."""

    def __init__(self, config: Config, store: ModerationStore, detector: Detector,
                 directory: Directory) -> None:
        self.config = config
        self.store = store
        self.detector = detector
        self.directory = directory
        self.policies: dict[str, RoomPolicy] = {
            room.slug: policy_for_room(room.slug, room.audience, room.policy)
            for room in config.rooms}
        self.unstaffed_policy: RoomPolicy | None = None  # set while no moderator watches
        self.on_flag: FlagListener | None = None

    def screen(self, conn: Connection, room: Room, text: str) -> Screening:
        verdict = self.detector.classify(text, room=room.slug)
        if not verdict.categories and verdict.severity == Severity.NONE:
            return CLEAR
        policy = self.policies.get(room.slug) or policy_for_room(room.slug, room.audience)
        decision = decide(verdict, policy, unstaffed_policy=self.unstaffed_policy)
        if decision.downgraded:
            log.info("own crisis message not held", extra={"room": room.slug})
        return Screening(cw=decision.cw, hold=decision.action == "hold", verdict=verdict,
                         decision=decision)

    async def _trajectory(self, conn: Connection, room: Room, screening: Screening
                          ) -> Screening:
        """Repeated medium signals from one user within the window raise severity."""
        verdict = screening.verdict
        assert verdict is not None and conn.identity is not None
        if verdict.severity != Severity.MEDIUM:
            return screening
        count = await self.store.count_medium(
            conn.identity.user_id, self.config.moderation.trajectory_window_seconds)
        raised = apply_trajectory(verdict, count - 1)
        if raised.severity == verdict.severity:
            return screening
        policy = self.policies.get(room.slug) or policy_for_room(room.slug, room.audience)
        return replace(screening, verdict=raised,
                       decision=decide(raised, policy, unstaffed_policy=self.unstaffed_policy))

    def _support(self, conn: Connection, room: Room, verdict: Verdict) -> dict[str, Any]:
        topic = topic_for_room(room.slug, room.topic or None)
        resources = self.directory.select(topic, conn.region, verdict.severity)
        return {"type": "support", "room": room.slug, "severity": verdict.severity.label,
                "categories": list(verdict.categories),
                "text": support_text(verdict.categories, verdict.severity, conn.lang,
                                     youth=room.audience == "youth"),
                "resources": [r.to_wire() for r in resources]}

    async def _act(self, conn: Connection, room: Room, message: dict[str, Any],
                   screening: Screening, *, held: bool) -> None:
        screening = await self._trajectory(conn, room, screening)
        verdict, decision = screening.verdict, screening.decision
        assert verdict is not None and decision is not None
        if decision.send_support:
            conn.push_obj(self._support(conn, room, verdict))
        if held:
            metrics.held()
        log.info("moderation finding", extra={
            "room": room.slug, "categories": list(verdict.categories),
            "severity": verdict.severity.label, "action": decision.action})
        if decision.flag or held:
            await self.create_flag(room.slug, message, verdict, source="detector", held=held)

    async def create_flag(self, room: str, message: dict[str, Any], verdict: Verdict | None,
                          *, source: str, severity: str | None = None,
                          categories: list[str] | None = None,
                          held: bool = False) -> tuple[str, bool]:
        """Store a flag for moderators and announce it; reports merge per message."""
        sev = severity or (verdict.severity.label if verdict is not None else "low")
        if sev == "none":
            sev = "low"
        flag: dict[str, Any] = {
            "id": f"f-{now_ms()}-{secrets.token_hex(3)}", "room": room,
            "message": {k: v for k, v in message.items() if k not in ("type", "uid")},
            "categories": categories if categories is not None
            else list(verdict.categories if verdict else []),
            "severity": sev, "source": source,
            "evidence": [e.to_dict() for e in verdict.evidence] if verdict else [],
            "state": "open", "created_at": now_ms(),
        }
        if held:
            flag["held"] = True  # the room has not seen it: a moderator may approve it
        merge = f"{room}:{message['id']}" if source == "report" else None
        flag_id, created = await self.store.add_flag(flag, merge_key=merge)
        if created:
            for category in flag["categories"]:
                metrics.flag(category, sev)
        if self.on_flag is not None:
            result = self.on_flag({"flag_id": flag_id, "created": created})
            if hasattr(result, "__await__"):
                await result
        return flag_id, created

    async def hold(self, conn: Connection, room: Room, text: str, nonce: str | None,
                   screening: Screening) -> dict[str, Any]:
        ident = conn.identity
        assert ident is not None
        body: dict[str, Any] = {"room": room.slug, "from": ident.public(), "text": text,
                                "uid": ident.user_id}
        if screening.cw:
            body["cw"] = screening.cw
        nonce_key = "\x00".join((room.slug, ident.user_id, nonce)) if nonce else None
        held_id, ts, created = await self.store.hold(room.slug, body, nonce_key)
        if created:
            message = {**body, "id": held_id, "ts": ts}
            await self._act(conn, room, message, screening, held=True)
        return {"id": held_id, "ts": ts, "status": "held"}

    async def after_publish(self, conn: Connection, room: Room, text: str, message_id: str,
                            screening: Screening) -> None:
        if screening.verdict is None:
            return
        assert conn.identity is not None
        message: dict[str, Any] = {"room": room.slug, "id": message_id,
                                   "ts": ts_of(message_id), "from": conn.identity.public(),
                                   "text": text}
        if screening.cw:
            message["cw"] = screening.cw
        await self._act(conn, room, message, screening, held=False)
