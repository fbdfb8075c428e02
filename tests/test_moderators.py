"""The moderator workflow on two real nodes: queue, claims, actions, escalation, audit."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from tests.client import Client
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.asyncio
PASSWORD = "a-long-enough-passphrase"


def cli(node, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chatserver", *args], input=stdin,
                          capture_output=True, text=True, env=node.env, cwd=str(ROOT),
                          timeout=60)


async def make_user(node, role: str = "moderator", band: str = "18+") -> tuple[str, str]:
    """(handle, token) of a new account with `role`, created through the CLI."""
    handle = f"{role[:3]}_{secrets.token_hex(3)}"
    done = await asyncio.to_thread(cli, node, "users", "add", handle, "--role", role,
                                   "--age-band", band, stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    async with httpx.AsyncClient(base_url=node.url) as http:
        res = await http.post("/api/login", json={"handle": handle, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return handle, res.json()["token"]


async def moderator(node) -> tuple[str, Client]:
    handle, token = await make_user(node)
    return handle, await Client.connect(node.ws_url, hello={"token": token})


class Webhook:
    """A local on-call endpoint that records what it receives (or fails on purpose)."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.port = free_port()
        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oncall"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def two_nodes(start_node):
    return start_node(), start_node()


async def test_queue_order_claim_conflict_release_resolve(two_nodes) -> None:
    a, b = two_nodes
    m1_handle, m1 = await moderator(a)
    m2_handle, m2 = await moderator(b)
    assert (await m1.ok("mod.watch"))["flags"] == []
    await m2.ok("mod.watch")
    peer = await Client.connect(b.ws_url, guest="peer")
    await peer.ok("join", room="general")
    await peer.ok("send", room="general", text="i wish i could just go to sleep and never wake up")
    medium = await m1.next_event("flag")
    await peer.ok("send", room="general", text="took all my pills an hour ago")
    imminent = await m1.next_event("flag")
    assert imminent["flag"]["severity"] == "imminent"
    assert medium["flag"]["severity"] in ("medium", "high")
    await m2.next_event("flag")  # the other node's moderator sees it too
    flags = (await m1.ok("mod.watch"))["flags"]
    assert [f["id"] for f in flags][:1] == [imminent["flag"]["id"]]  # most severe first
    fid = imminent["flag"]["id"]
    claimed = await m1.ok("mod.claim", flag=fid)
    assert claimed["flag"]["claimed_by"] == m1_handle
    upd = await m2.next_event("flag_update", where=lambda f: f["flag"]["id"] == fid)
    assert upd["flag"]["state"] == "claimed"
    err = await m2.request("mod.claim", flag=fid)
    assert err["error"]["code"] == "conflict"
    await m1.ok("mod.release", flag=fid)
    await m2.ok("mod.claim", flag=fid)
    err = await m2.request("mod.resolve", flag=fid, outcome="shrug")
    assert err["error"]["code"] == "bad_request"
    done = await m2.ok("mod.resolve", flag=fid, outcome="support_sent", note="checked in")
    assert done["flag"]["state"] == "resolved"
    upd = await m1.next_event("flag_update", where=lambda f: f["flag"]["state"] == "resolved")
    assert upd["flag"]["outcome"] == "support_sent"
    assert fid not in [f["id"] for f in (await m1.ok("mod.watch"))["flags"]]
    # peers cannot use moderator ops
    err = await peer.request("mod.watch")
    assert err["error"]["code"] == "forbidden"
    # the audit log names who did what
    out = await asyncio.to_thread(cli, a, "audit")
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    actions = [(e["actor"], e["action"]) for e in entries]
    assert (m1_handle, "claim") in actions and (m2_handle, "resolve") in actions
    resolve = next(e for e in entries if e["action"] == "resolve")
    assert resolve["target"] == fid and resolve["outcome"] == "support_sent"
    assert resolve["reason"] == "checked in" and resolve["ts"] > 0
    for c in (m1, m2, peer):
        await c.close()


async def test_approve_held_and_hide_retracts_everywhere(two_nodes) -> None:
    a, b = two_nodes
    _, mod = await moderator(a)
    await mod.ok("mod.watch")
    writer = await Client.connect(a.ws_url, guest="writer")
    reader = await Client.connect(b.ws_url, guest="reader")
    for c in (writer, reader):
        await c.ok("join", room="general")
    held = await writer.ok("send", room="general", text="honestly just kys already")
    assert held["status"] == "held"
    flag = (await mod.next_event("flag"))["flag"]
    assert flag["message"]["id"] == held["id"]
    approved = await mod.ok("mod.approve", room="general", id=held["id"])
    got = await reader.next_event("message", where=lambda f: f["id"] == approved["id"])
    assert got["text"] == "honestly just kys already"
    err = await mod.request("mod.approve", room="general", id=held["id"])
    assert err["error"]["code"] == "not_found"
    await mod.ok("mod.hide", room="general", id=approved["id"])
    retract = await reader.next_event("retract")
    assert retract == {"type": "retract", "room": "general", "id": approved["id"]}
    joined = await reader.ok("join", room="general")
    assert approved["id"] not in [m["id"] for m in joined["messages"]]
    for c in (mod, writer, reader):
        await c.close()


async def test_mute_checkin_slowmode_lock(two_nodes) -> None:
    a, b = two_nodes
    _, mod = await moderator(a)
    await mod.ok("join", room="ptsd")
    peer = await Client.connect(b.ws_url, guest="peer")
    await peer.ok("join", room="ptsd")
    await mod.ok("mod.mute", handle=peer.user["handle"], minutes=5, reason="cool down")
    note = await peer.next_event("notice", where=lambda f: f.get("code") == "muted")
    assert note["level"] == "warn"
    err = await peer.request("send", room="ptsd", text="hello?")
    assert err["error"]["code"] == "muted"
    await mod.ok("mod.unmute", handle=peer.user["handle"])
    await peer.ok("send", room="ptsd", text="thanks")
    await mod.ok("mod.checkin", handle=peer.user["handle"], text="How are you doing?")
    checkin = await peer.next_event("notice", where=lambda f: f.get("code") == "checkin")
    assert checkin["from"] == "the moderators" and checkin["text"] == "How are you doing?"
    assert mod.user["handle"] not in json.dumps(checkin)
    await mod.ok("mod.slowmode", room="ptsd", seconds=30)
    await peer.next_event("notice", where=lambda f: f.get("code") == "slowmode")
    await peer.ok("send", room="ptsd", text="one")
    err = await peer.request("send", room="ptsd", text="two")
    assert err["error"]["code"] == "rate_limited" and err["error"]["retry_after"] > 20
    await mod.ok("mod.slowmode", room="ptsd", seconds=0)
    await mod.ok("mod.lock", room="ptsd", locked=True)
    await peer.next_event("notice", where=lambda f: f.get("code") == "locked")
    err = await peer.request("send", room="ptsd", text="three")
    assert err["error"]["code"] == "locked"
    await mod.ok("send", room="ptsd", text="moderators can still speak")
    await mod.ok("mod.lock", room="ptsd", locked=False)
    await peer.ok("send", room="ptsd", text="four")
    err = await mod.request("mod.mute", handle="nobody_here_at_all")
    assert err["error"]["code"] == "not_found"
    for c in (mod, peer):
        await c.close()


async def test_unclaimed_urgent_flag_is_escalated_to_webhook(start_node) -> None:
    hook = Webhook()
    try:
        node = start_node(moderation_webhook_url=hook.url, moderation_escalate_after_seconds=1)
        _, mod = await moderator(node)
        await mod.ok("mod.watch")
        peer = await Client.connect(node.ws_url, guest="peer")
        await peer.ok("join", room="general")
        text = "tonight is the night, i wrote my letters, goodbye everyone"
        await peer.ok("send", room="general", text=text)
        flag = (await mod.next_event("flag"))["flag"]
        notice = await mod.next_event("notice", timeout=15,
                                      where=lambda f: f.get("code") == "escalated")
        assert notice["flag"] == flag["id"]
        assert len(hook.received) == 1
        sent = hook.received[0]
        assert sent["flag"] == flag["id"] and sent["reason"] == "unclaimed"
        assert text not in json.dumps(sent)  # no message text leaves the server
        # by hand, once more
        res = await mod.ok("mod.escalate", flag=flag["id"], note="calling on-call")
        assert res["delivered"] is True and len(hook.received) == 2
        for c in (mod, peer):
            await c.close()
    finally:
        hook.close()


async def test_failing_webhook_is_logged_and_announced(start_node) -> None:
    hook = Webhook(status=500)
    try:
        node = start_node(moderation_webhook_url=hook.url)
        _, mod = await moderator(node)
        await mod.ok("mod.watch")
        peer = await Client.connect(node.ws_url, guest="peer")
        await peer.ok("join", room="general")
        await peer.ok("send", room="general", text="took all my pills an hour ago")
        flag = (await mod.next_event("flag"))["flag"]
        res = await mod.ok("mod.escalate", flag=flag["id"], timeout=30)
        assert res["delivered"] is False
        assert len(hook.received) >= 2  # retried
        assert "escalation webhook failed" in node.log()
        for c in (mod, peer):
            await c.close()
    finally:
        hook.close()


async def test_claim_timeout_and_disconnect_reopen(start_node) -> None:
    node = start_node(moderation_claim_timeout_seconds=1)
    _, m1 = await moderator(node)
    _, m2 = await moderator(node)
    await m1.ok("mod.watch")
    await m2.ok("mod.watch")
    peer = await Client.connect(node.ws_url, guest="peer")
    await peer.ok("join", room="general")
    await peer.ok("send", room="general", text="i want to kill myself")
    fid = (await m2.next_event("flag"))["flag"]["id"]
    await m1.ok("mod.claim", flag=fid)
    reopened = await m2.next_event("flag_update", timeout=15,
                                   where=lambda f: f["flag"]["state"] == "open")
    assert reopened["flag"]["id"] == fid and "claimed_by" not in reopened["flag"]
    await m1.ok("mod.claim", flag=fid)
    await m2.next_event("flag_update", where=lambda f: f["flag"]["state"] == "claimed")
    await m1.close()
    again = await m2.next_event("flag_update", where=lambda f: f["flag"]["state"] == "open")
    assert again["flag"]["id"] == fid
    for c in (m2, peer):
        await c.close()


async def test_unstaffed_rooms_notice_and_policy(start_node) -> None:
    node = start_node()
    peer = await Client.connect(node.ws_url, hello={"guest": {"handle": "p"},
                                                    "locale": "en-GB"})
    await peer.ok("join", room="general")
    notice = await peer.next_event("notice", where=lambda f: f.get("code") == "unstaffed")
    assert notice["room"] == "general" and notice["resources"][0]["phone"] == "999"
    # contact details are held in every room while nobody can review them
    held = await peer.ok("send", room="general", text="add me on snap @sunny_day22")
    assert held["status"] == "held"
    # a person's own crisis is never held, even now
    own = await peer.ok("send", room="general", text="i want to kill myself")
    assert own["status"] == "delivered"
    _, mod = await moderator(node)
    await mod.ok("mod.watch")
    back = await peer.next_event("notice", where=lambda f: f.get("code") == "staffed")
    assert back["level"] == "info"
    # the node that saw the watch switched policy before it told anyone
    sent = await peer.ok("send", room="general", text="add me on snap @sunny_day22 pls")
    assert sent["status"] == "delivered"
    for c in (mod, peer):
        await c.close()


async def test_escalation_survives_the_node_that_read_the_flag(start_node, redis_url,
                                                               key_prefix) -> None:
    import signal

    import redis.asyncio as aioredis

    hook = Webhook()
    try:
        a = start_node(moderation_webhook_url=hook.url, moderation_escalate_after_seconds=2)
        peer = await Client.connect(a.ws_url, guest="peer")
        await peer.ok("join", room="general")
        await peer.ok("send", room="general", text="took all my pills an hour ago")
        r = aioredis.Redis.from_url(redis_url)
        try:
            # node a has read the flag from the consumer group and holds it pending
            for _ in range(200):
                pending = await r.xpending(f"{key_prefix}flags:log", "escalation")
                if pending["pending"] == 1:
                    break
                await asyncio.sleep(0.05)
            assert pending["pending"] == 1
        finally:
            await r.aclose()
        a.stop(signal.SIGKILL)
        b = start_node(moderation_webhook_url=hook.url, moderation_escalate_after_seconds=2)
        assert b.port != a.port
        for _ in range(400):
            if hook.received:
                break
            await asyncio.sleep(0.05)
        assert [e["reason"] for e in hook.received] == ["unclaimed"]
    finally:
        hook.close()


async def test_ban_by_moderator_closes_on_other_node_and_audit_has_everything(
        two_nodes) -> None:
    a, b = two_nodes
    mod_handle, mod = await moderator(a)
    admin_handle, admin_token = await make_user(a, role="admin")
    peer = await Client.connect(b.ws_url, guest="peer")
    token = peer.token
    await peer.ok("join", room="general")
    await mod.ok("mod.slowmode", room="general", seconds=5)
    await mod.ok("mod.slowmode", room="general", seconds=0)
    # a millisecond boundary after the slowmode entries, before the ban (one clock)
    since_ms = int(time.time() * 1000) + 1
    await asyncio.sleep(0.005)
    await mod.ok("mod.ban", handle=peer.user["handle"], reason="threats")
    code, _ = await peer.closed()
    assert code == 1008
    again = await Client.connect(b.ws_url, hello=False)
    res = await again.request("hello", token=token)
    assert res["error"]["code"] == "banned"
    code, _ = await again.closed()
    assert code == 1008
    out = await asyncio.to_thread(cli, a, "audit", "--json")
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    ban = next(e for e in entries if e["action"] == "ban")
    assert ban["actor"] == mod_handle and ban["target"] == peer.user["handle"]
    assert ban["reason"] == "threats"
    assert [e["action"] for e in entries] == ["slowmode", "slowmode", "ban"]
    since = await asyncio.to_thread(cli, a, "audit", "--since", str(since_ms))
    assert [json.loads(line)["action"] for line in since.stdout.splitlines()] == ["ban"]
    # admins read it over HTTP; moderators may not
    async with httpx.AsyncClient(base_url=a.url) as http:
        res = await http.get("/api/audit", headers={"Authorization": f"Bearer {admin_token}"})
        assert res.status_code == 200, res.text
        assert [e["action"] for e in res.json()["entries"]] == ["slowmode", "slowmode", "ban"]
        _, mod_token = await make_user(a)
        res = await http.get("/api/audit", headers={"Authorization": f"Bearer {mod_token}"})
        assert res.status_code == 403
        res = await http.get("/api/audit")
        assert res.status_code == 401
    assert admin_handle
    await mod.close()


async def test_reports_are_rate_limited(start_node) -> None:
    node = start_node(moderation_report_rate=2)
    writer = await Client.connect(node.ws_url, guest="writer")
    reporter = await Client.connect(node.ws_url, guest="reporter")
    for c in (writer, reporter):
        await c.ok("join", room="general")
    ids = [(await writer.ok("send", room="general", text=f"message {i}"))["id"]
           for i in range(3)]
    await reporter.ok("report", room="general", id=ids[0])
    await reporter.ok("report", room="general", id=ids[1])
    err = await reporter.request("report", room="general", id=ids[2])
    assert err["error"]["code"] == "rate_limited" and err["error"]["retry_after"] > 0
    for c in (writer, reporter):
        await c.close()
