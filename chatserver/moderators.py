"""The moderator desk: the live flag queue, moderator actions, escalation, audit.

Flags live in Redis (`broker.moderation`); this node keeps only who is
watching here. Every change is published on the control channel so every
watching moderator on any node sees it at once. A sweeper on each node
returns silent claims to the queue, escalates urgent flags nobody claimed
(once, across nodes), tracks whether any moderator watches anywhere (the
unstaffed policy), and nudges moderators who have been on shift too long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack

from chatserver import metrics
from chatserver.broker import BrokerUnavailable
from chatserver.broker.moderation import ModerationStore, now_ms
from chatserver.connection import Connection
from chatserver.pipeline import ModerationPipeline
from chatserver.protocol import OpError, Outgoing, Request
from chatserver.services import Handler, Services
from moderation.policy import DEFAULT_POLICY, RoomPolicy
from moderation.referrals import default_directory
from rooms.identity import Identity

log = logging.getLogger("chatserver.moderators")

OUTCOMES = ("no_action", "support_sent", "hidden", "muted", "banned", "escalated")
WATCHERS_KEY = "~watchers"  # presence key of watching moderators (not a valid room slug)
SWEEP_SECONDS = 1.0


@dataclass(eq=False)
class Watch:
    conn: Connection
    since: float = field(default_factory=time.monotonic)
    nudged: bool = False


def _staff(conn: Connection) -> Identity:
    if conn.identity is None or not conn.identity.is_staff:
        raise OpError("forbidden", "moderators only")
    return conn.identity


class ModeratorDesk:
    """Moderator ops and the background duties of one node."""

    def __init__(self, services: Services, pipeline: ModerationPipeline) -> None:
        self.s = services
        self.pipeline = pipeline
        self.store: ModerationStore = pipeline.store
        self.watchers: dict[str, Watch] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # escalation entries read from the consumer group, waiting for their time:
        # entry id -> (due ms, flag id)
        self._due: dict[str, tuple[int, str]] = {}
        self._staffed: bool | None = None
        self.webhook_failures = 0
        self.escalations = 0

    # -- wiring -----------------------------------------------------------
    def install(self) -> None:
        hub = self.s.hub
        hub.control_handlers["flag"] = lambda body: self._to_watchers("flag", body)
        hub.control_handlers["flag_update"] = lambda body: self._to_watchers("flag_update",
                                                                            body)
        hub.control_handlers["user_notice"] = self._on_user_notice
        hub.control_handlers["watch_notice"] = self._on_watch_notice
        hub.on_joined = self._on_joined
        self.pipeline.on_flag = self._on_new_flag
        self.s.handlers.update(self.handlers())

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._sweep_forever(), name="moderator-sweeper"),
                       loop.create_task(self._escalate_forever(), name="escalation")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def handlers(self) -> dict[str, Handler]:
        return {
            "mod.watch": self.op_watch, "mod.claim": self.op_claim,
            "mod.release": self.op_release, "mod.resolve": self.op_resolve,
            "mod.approve": self.op_approve, "mod.hide": self.op_hide,
            "mod.mute": self.op_mute, "mod.unmute": self.op_unmute, "mod.ban": self.op_ban,
            "mod.slowmode": self.op_slowmode, "mod.lock": self.op_lock,
            "mod.checkin": self.op_checkin, "mod.escalate": self.op_escalate,
        }

    # -- events to watchers -------------------------------------------------
    def _to_watchers(self, kind: str, flag: dict[str, Any]) -> None:
        frame = Outgoing({"type": kind, "flag": flag})
        for watch in list(self.watchers.values()):
            if watch.conn.closed:
                self.watchers.pop(watch.conn.id, None)
            else:
                watch.conn.push(frame)

    async def _announce(self, kind: str, flag_id: str) -> dict[str, Any] | None:
        flag = await self.store.get_flag(flag_id)
        if flag is not None:
            await self.s.broker.publish(None, kind, flag)
        return flag

    async def _on_new_flag(self, info: dict[str, Any]) -> None:
        await self._announce("flag" if info["created"] else "flag_update", info["flag_id"])

    def _on_user_notice(self, body: dict[str, Any]) -> None:
        notice = body.get("notice")
        if not isinstance(notice, dict):
            return
        frame = Outgoing(notice)
        for conn in self.s.hub.user_connections(str(body.get("uid", ""))):
            conn.push(frame)

    async def _notice_user(self, user_id: str, notice: dict[str, Any]) -> None:
        await self.s.broker.publish(None, "user_notice", {"uid": user_id, "notice": notice})

    async def audit(self, actor: Identity, action: str, *, target: str | None = None,
                    reason: str | None = None, **extra: Any) -> None:
        """Who, what, whom, when, why: append-only."""
        entry: dict[str, Any] = {"ts": now_ms(), "actor": actor.handle, "role": actor.role,
                                 "action": action, "target": target, "reason": reason}
        entry.update({k: v for k, v in extra.items() if v is not None})
        await self.store.audit(entry)

    # -- queue ops ------------------------------------------------------------
    async def op_watch(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        _staff(conn)
        if conn.id not in self.watchers:
            self.watchers[conn.id] = Watch(conn)
            await self._publish_watchers()
        return {"flags": await self.store.queue()}

    async def _publish_watchers(self) -> None:
        live = sum(1 for w in self.watchers.values() if not w.conn.closed)
        with contextlib.suppress(BrokerUnavailable):
            total = await self.s.broker.presence(WATCHERS_KEY, live)
            self._set_staffed(total > 0)

    async def forget(self, conn: Connection) -> None:
        """A moderator's connection ended: stop watching, reopen their claims."""
        if self.watchers.pop(conn.id, None) is None:
            return
        await self._publish_watchers()
        ident = conn.identity
        if ident is None or self.s.hub.user_connections(ident.user_id):
            return
        with contextlib.suppress(BrokerUnavailable):
            for flag in await self.store.queue():
                if flag.get("claimed_by") == ident.handle and flag["state"] == "claimed" \
                        and await self.store.release(flag["id"], ident.handle) == "ok":
                    await self._announce("flag_update", flag["id"])

    async def op_claim(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        status, holder = await self.store.claim(req.args["flag"], me.handle)
        if status == "not_found":
            raise OpError("not_found", "no such flag")
        if status == "conflict":
            raise OpError("conflict", f"{holder} is handling this flag")
        if status == "resolved":
            raise OpError("conflict", "this flag is already resolved")
        flag = await self._announce("flag_update", req.args["flag"])
        await self.audit(me, "claim", target=req.args["flag"])
        return {"flag": flag}

    async def op_release(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        status = await self.store.release(req.args["flag"], me.handle)
        if status == "not_found":
            raise OpError("not_found", "no such flag")
        if status in ("conflict", "not_claimed"):
            raise OpError("conflict", "you do not hold this flag")
        flag = await self._announce("flag_update", req.args["flag"])
        await self.audit(me, "release", target=req.args["flag"])
        return {"flag": flag}

    async def op_resolve(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        outcome = req.args["outcome"]
        if outcome not in OUTCOMES:
            raise OpError("bad_request", f"outcome must be one of {', '.join(OUTCOMES)}")
        note = str(req.args.get("note", ""))[:2000]
        status = await self.store.resolve(req.args["flag"], me.handle, outcome, note)
        if status == "not_found":
            raise OpError("not_found", "no such flag")
        if status == "conflict":
            raise OpError("conflict", "another moderator holds this flag")
        if status == "resolved":
            raise OpError("conflict", "this flag is already resolved")
        await self.store.count_handled(me.handle)
        flag = await self._announce("flag_update", req.args["flag"])
        await self.audit(me, "resolve", target=req.args["flag"], reason=note or None,
                         outcome=outcome)
        return {"flag": flag}

    # -- message ops ----------------------------------------------------------
    async def op_approve(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        room, held_id = req.args["room"], req.args["id"]
        s.hub.room_or_error(room)
        held = await self.store.take_held(room, held_id)
        if held is None:
            raise OpError("not_found", "no held message with that id")
        body = pack_body_from(held)
        hist = s.config.history
        try:
            outcome = await s.broker.send(
                room, body, user_id=str(held.get("uid", "")), nonce=None, is_staff=True,
                enforce=False, rate=1.0, burst=1.0, maxlen=hist.max_messages,
                retention_ms=int(hist.retention_days * 86400 * 1000))
        except BrokerUnavailable:
            await self.store.restore_held(room, held_id, held)
            raise
        await self.audit(me, "approve", target=str(held.get("from", {}).get("handle")),
                         room=room, message=held_id, published=outcome.id)
        return {"id": outcome.id, "ts": int(outcome.id.split("-")[0])}

    async def op_hide(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        room, mid = req.args["room"], req.args["id"]
        s.hub.room_or_error(room)
        author: str | None = None
        if mid.startswith("held-"):
            held = await self.store.take_held(room, mid)
            if held is None:
                raise OpError("not_found", "no such message")
            author = str(held.get("from", {}).get("handle"))
        else:
            raw = await s.broker.get_message(room, mid)
            if raw is None or not await s.broker.hide(room, mid):
                raise OpError("not_found", "no such message")
            author = str(msgpack.unpackb(raw).get("from", {}).get("handle"))
        await self.audit(me, "hide", target=author, room=room, message=mid)
        return {}

    # -- people ops -----------------------------------------------------------
    async def _user(self, handle: str) -> Identity:
        accounts = self.s.extras.get("accounts")
        who = await accounts.find_user(handle) if accounts is not None else None
        if who is None:
            raise OpError("not_found", f"no user {handle[:40]!r}")
        return who  # type: ignore[no-any-return]

    async def op_mute(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        who = await self._user(req.args["handle"])
        minutes = req.args.get("minutes")
        if minutes is not None and not 0 < minutes <= 60 * 24 * 365:
            raise OpError("bad_request", "minutes must be between 0 and a year")
        reason = str(req.args.get("reason", ""))[:500]
        await s.extras["accounts"].mute(who.user_id, minutes, reason)
        span = f"for {minutes:g} minutes" if minutes else "until a moderator lifts it"
        await self._notice_user(who.user_id, {
            "type": "notice", "level": "warn", "code": "muted",
            "text": f"The moderators have paused your messages {span}. You can still read "
                    "along. If you need help now, the support resources are always there."})
        await self.audit(me, "mute", target=who.handle, reason=reason or None,
                         minutes=minutes)
        return {}

    async def op_unmute(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        who = await self._user(req.args["handle"])
        await s.extras["accounts"].unmute(who.user_id)
        await self.audit(me, "unmute", target=who.handle, reason=req.args.get("reason"))
        return {}

    async def op_ban(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        who = await self._user(req.args["handle"])
        if who.is_staff and me.role != "admin":
            raise OpError("forbidden", "only an admin can ban a moderator")
        await s.extras["accounts"].ban(who.user_id, req.args["reason"][:500])
        await self.audit(me, "ban", target=who.handle, reason=req.args["reason"][:500])
        return {}

    async def op_checkin(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        who = await self._user(req.args["handle"])
        text = req.args["text"].strip()[:1000]
        if not text:
            raise OpError("bad_request", "text is empty")
        # Always from "the moderators", never from a personal handle.
        await self._notice_user(who.user_id, {"type": "notice", "level": "info",
                                              "code": "checkin", "from": "the moderators",
                                              "text": text})
        await self.audit(me, "checkin", target=who.handle)
        return {}

    # -- room ops -------------------------------------------------------------
    async def op_slowmode(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        room = req.args["room"]
        s.hub.room_or_error(room)
        seconds = req.args["seconds"]
        if not 0 <= seconds <= 3600:
            raise OpError("bad_request", "seconds must be between 0 and 3600")
        await self.store.room_setting(room, "slowmode", f"{seconds:g}" if seconds else None)
        text = (f"Slow mode is on: one message every {seconds:g} seconds." if seconds
                else "Slow mode is off.")
        await s.broker.publish(room, "notice", {"level": "info", "code": "slowmode",
                                                "text": text, "seconds": seconds})
        await self.audit(me, "slowmode", room=room, seconds=seconds)
        return {}

    async def op_lock(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        room = req.args["room"]
        s.hub.room_or_error(room)
        locked = req.args["locked"]
        await self.store.room_setting(room, "locked", "1" if locked else None)
        text = ("The moderators have paused this room for now." if locked
                else "This room is open again.")
        await s.broker.publish(room, "notice", {"level": "warn" if locked else "info",
                                                "code": "locked" if locked else "unlocked",
                                                "text": text})
        await self.audit(me, "lock" if locked else "unlock", room=room)
        return {}

    # -- escalation -----------------------------------------------------------
    async def op_escalate(self, s: Services, conn: Connection, req: Request) -> dict[str, Any]:
        me = _staff(conn)
        flag = await self.store.get_flag(req.args["flag"])
        if flag is None:
            raise OpError("not_found", "no such flag")
        note = str(req.args.get("note", ""))[:1000]
        await self.store.mark_escalated(flag["id"], "manual")
        delivered = await self.escalate(flag, reason="manual", note=note, by=me.handle)
        await self.audit(me, "escalate", target=flag["id"], reason=note or None,
                         delivered=delivered)
        return {"delivered": delivered}

    async def escalate(self, flag: dict[str, Any], *, reason: str, note: str = "",
                       by: str | None = None) -> bool:
        """POST the flag (never the message text) to the on-call webhook, with retries."""
        self.escalations += 1
        metrics.escalation()
        payload = {"event": "escalation", "reason": reason, "flag": flag["id"],
                   "room": flag["room"], "severity": flag["severity"],
                   "categories": flag["categories"], "created_at": flag["created_at"],
                   "waited_seconds": round((now_ms() - flag["created_at"]) / 1000, 1),
                   "note": note, "by": by or "the server", "console": "/mod"}
        url = self.s.config.moderation.webhook_url
        delivered = False
        if url:
            delivered = await post_with_retries(url, payload)
        if not delivered:
            self.webhook_failures += 1
            metrics.webhook_failure()
            log.error("escalation webhook failed", extra={
                "flag": flag["id"], "configured": bool(url)})
        await self.store.set_flag_field(flag["id"], "escalation",
                                        "delivered" if delivered else "failed")
        self._to_watchers_everywhere_notice(flag, delivered, reason)
        await self._announce("flag_update", flag["id"])
        return delivered

    def _to_watchers_everywhere_notice(self, flag: dict[str, Any], delivered: bool,
                                       reason: str) -> None:
        text = (f"Flag in {flag['room']} ({flag['severity']}) was escalated to on-call"
                + ("." if delivered else ", but the webhook could not be reached."))
        self.s.hub.spawn(self.s.broker.publish(None, "watch_notice", {
            "type": "notice", "level": "warn" if not delivered else "info",
            "code": "escalated", "text": text, "flag": flag["id"], "reason": reason}))

    # -- staffing ---------------------------------------------------------------
    def _set_staffed(self, staffed: bool) -> None:
        if self._staffed == staffed:
            return
        first = self._staffed is None
        self._staffed = staffed
        self.s.hub.unstaffed = not staffed
        mod = self.s.config.moderation
        self.pipeline.unstaffed_policy = None if staffed else unstaffed_policy(
            mod.unstaffed_hold)
        if first and staffed:
            return
        for slug in list(self.s.hub.rooms):
            for member in list(self.s.hub.rooms[slug].values()):
                member.conn.push_obj(self.staffing_notice(member.conn, slug, staffed))

    def staffing_notice(self, conn: Connection, slug: str, staffed: bool) -> dict[str, Any]:
        if staffed:
            return {"type": "notice", "room": slug, "level": "info", "code": "staffed",
                    "text": "A moderator is online again."}
        emergency = default_directory().emergency(conn.region).to_wire()
        return {"type": "notice", "room": slug, "level": "warn", "code": "unstaffed",
                "text": "No moderator is online right now. Peers are still here; if you "
                        "or someone else is in danger, contact emergency services now.",
                "resources": [emergency]}

    def _on_joined(self, conn: Connection, slug: str) -> None:
        if self._staffed is False:
            conn.push_obj(self.staffing_notice(conn, slug, False))

    # -- the sweeper --------------------------------------------------------------
    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except BrokerUnavailable:
                pass
            except Exception:
                log.exception("moderator sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)

    async def _escalate_forever(self) -> None:
        """Escalation as a consumer group on the flag log, shared by all nodes.

        Each new flag is read by exactly one node, which keeps the entry pending
        until the flag's deadline, escalates it if nobody claimed it, then
        acknowledges it. Entries a dead node left pending are taken over
        (XAUTOCLAIM) once they have idled past the deadline.
        """
        consumer = self.s.broker.node_id
        mod = self.s.config.moderation
        wait_ms = int(mod.escalate_after_seconds * 1000)
        last_claim = 0.0
        while True:
            try:
                await self.store.ensure_group()
                while True:
                    fresh = await self.store.read_group(consumer, block_ms=500)
                    if time.monotonic() - last_claim > 5:
                        last_claim = time.monotonic()
                        fresh += await self.store.autoclaim(consumer, wait_ms + 5_000)
                    await self._schedule(fresh)
                    await self._escalate_due()
            except asyncio.CancelledError:
                raise
            except BrokerUnavailable:
                await asyncio.sleep(1)
            except Exception:
                log.exception("escalation worker failed")
                await asyncio.sleep(1)

    async def _schedule(self, entries: list[tuple[str, str, str]]) -> None:
        done = []
        wait_ms = int(self.s.config.moderation.escalate_after_seconds * 1000)
        for entry_id, flag_id, event in entries:
            flag = await self.store.get_flag(flag_id) if event == "new" else None
            if flag is None or flag["severity"] not in ("high", "imminent"):
                done.append(entry_id)
            else:
                self._due[entry_id] = (int(flag["created_at"]) + wait_ms, flag_id)
        await self.store.ack(*done)

    async def _escalate_due(self) -> None:
        now = now_ms()
        for entry_id, (due, flag_id) in list(self._due.items()):
            if due > now:
                continue
            flag = await self.store.get_flag(flag_id)
            if flag is not None and flag["state"] == "open" and \
                    await self.store.mark_escalated(flag_id, "auto"):
                self.s.hub.spawn(self.escalate(flag, reason="unclaimed"))
            await self.store.ack(entry_id)
            del self._due[entry_id]

    def _on_watch_notice(self, body: dict[str, Any]) -> None:
        frame = Outgoing(body)
        for watch in self.watchers.values():
            watch.conn.push(frame)

    async def sweep(self) -> None:
        await self._publish_watchers()
        mod = self.s.config.moderation
        now = now_ms()
        for flag in await self.store.queue():
            if flag["state"] == "claimed" and \
                    now - int(flag.get("claimed_at", now)) > mod.claim_timeout_seconds * 1000:
                status = await self.store.release(flag["id"], "", str(flag["claimed_at"]))
                if status == "ok":
                    log.info("claim timed out", extra={"flag": flag["id"]})
                    await self._announce("flag_update", flag["id"])
        limit = mod.shift_minutes * 60
        for watch in list(self.watchers.values()):
            if not watch.nudged and time.monotonic() - watch.since > limit:
                watch.nudged = True
                watch.conn.push_obj({
                    "type": "notice", "level": "info", "code": "break",
                    "text": f"You have been on shift for {mod.shift_minutes:g} minutes. "
                            "Thank you. Consider a break and hand over open flags."})


def unstaffed_policy(hold: list[str]) -> RoomPolicy:
    """Hold what harms others while nobody can review it; `decide` never holds own crisis."""
    return DEFAULT_POLICY.with_overrides({category: "hold" for category in hold})


def pack_body_from(held: dict[str, Any]) -> bytes:
    body = {k: held[k] for k in ("room", "from", "text", "uid", "cw") if k in held}
    data = msgpack.packb(body, use_bin_type=True)
    assert isinstance(data, bytes)
    return data


async def post_with_retries(url: str, payload: dict[str, Any], attempts: int = 4,
                            first_delay: float = 0.5) -> bool:
    """POST JSON with exponential backoff; True once a 2xx answer came back."""
    import httpx

    delay = first_delay
    async with httpx.AsyncClient(timeout=5.0) as client:
        for attempt in range(attempts):
            try:
                res = await client.post(url, json=payload)
                if 200 <= res.status_code < 300:
                    return True
                log.warning("webhook answered", extra={"status": res.status_code,
                                                       "attempt": attempt + 1})
            except httpx.HTTPError as exc:
                log.warning("webhook unreachable", extra={"error": type(exc).__name__,
                                                          "attempt": attempt + 1})
            if attempt + 1 < attempts:
                await asyncio.sleep(delay)
                delay *= 2
    return False

