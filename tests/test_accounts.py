"""Accounts, roles and boundaries (issue 3): real Redis, two real nodes, real HTTP."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from chatserver.accounts import Accounts
from chatserver.broker import Broker
from chatserver.config import load_config
from chatserver.sessions import GuestSessions
from tests.client import Client
from tests.conftest import ROOT

pytestmark = pytest.mark.asyncio

PASSWORD = "correct horse battery"


@pytest.fixture
def two_nodes(start_node):
    fast = {"limits_send_rate": 1000, "limits_send_burst": 1000}
    return start_node(**fast), start_node(**fast)


@pytest.fixture
async def accounts(redis_url: str, key_prefix: str) -> AsyncIterator[Accounts]:
    """The Accounts API other code calls, in this process, on the nodes' namespace."""
    env = {"CHATSERVER_AUTH_ARGON2_MEMORY_COST": "1024", "CHATSERVER_AUTH_ARGON2_TIME_COST": "1",
           "CHATSERVER_REDIS_PREFIX": key_prefix}
    cfg = load_config(None, env=env)
    broker = Broker(redis_url, key_prefix, "test")
    yield Accounts(cfg, broker, GuestSessions(broker, cfg.auth.guest_ttl))
    await broker.close()


def handle(stem: str = "u") -> str:
    return f"{stem}_{secrets.token_hex(3)}"


async def register(node, name: str, band: str = "18+", password: str = PASSWORD) -> dict:
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/register",
                            json={"handle": name, "password": password, "age_band": band})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def connect(node, token: str) -> Client:
    return await Client.connect(node.ws_url, hello={"token": token})


# -- HTTP ----------------------------------------------------------------------
async def test_register_on_one_node_login_on_the_other(two_nodes) -> None:
    a, b = two_nodes
    name = handle("Mixed")
    async with httpx.AsyncClient(base_url=a.url) as http:
        r = await http.post("/api/register",
                            json={"handle": name, "password": PASSWORD, "age_band": "18+"})
    assert r.status_code == 201
    body = r.json()
    assert body["user"] == {"handle": name, "role": "peer", "badges": [], "age_band": "18+"}
    cookie = r.headers["set-cookie"]
    assert "session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie
    async with httpx.AsyncClient(base_url=b.url) as http:
        r = await http.post("/api/login", json={"handle": name.lower(), "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        assert r.json()["user"]["handle"] == name  # display case kept
        me = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["user"]["handle"] == name
        # the cookie alone also authenticates
        http.cookies.set("session", token)
        assert (await http.get("/api/me")).status_code == 200
    c = await connect(a, token)
    assert c.user["handle"] == name and c.user["age_band"] == "18+"
    assert "youth" not in c.seen[0]["rooms"] and c.token is None
    await c.close()


async def test_secure_cookie_when_configured(start_node) -> None:
    node = start_node(server_secure_cookies=True)
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/register", json={"handle": handle(), "password": PASSWORD,
                                                   "age_band": "18+"})
    assert "Secure" in r.headers["set-cookie"]


async def test_duplicate_handle_any_case_is_409(two_nodes) -> None:
    a, b = two_nodes
    name = handle("Dup")
    await register(a, name)
    async with httpx.AsyncClient(base_url=b.url) as http:
        r = await http.post("/api/register", json={"handle": name.upper(), "password": PASSWORD,
                                                   "age_band": "18+"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"


BAD_REGISTRATIONS = [
    {"handle": "ab", "password": PASSWORD, "age_band": "18+"},
    {"handle": "x" * 25, "password": PASSWORD, "age_band": "18+"},
    {"handle": "has space", "password": PASSWORD, "age_band": "18+"},
    {"handle": "émile", "password": PASSWORD, "age_band": "18+"},
    {"handle": "fine_name", "password": "short", "age_band": "18+"},
    {"handle": "fine_name", "password": "p" * 257, "age_band": "18+"},
    {"handle": "fine_name", "password": PASSWORD, "age_band": "12"},
    {"handle": "fine_name", "password": PASSWORD},
    {"handle": 5, "password": PASSWORD, "age_band": "18+"},
]


async def test_bad_registration_is_400(start_node) -> None:
    node = start_node()
    async with httpx.AsyncClient(base_url=node.url) as http:
        for body in BAD_REGISTRATIONS:
            r = await http.post("/api/register", json=body)
            assert r.status_code == 400, (body, r.text)
            assert r.json()["error"]["code"] == "bad_request"
        # a password of exactly 8 is fine
        r = await http.post("/api/register", json={"handle": handle(), "password": "8chars!!",
                                                   "age_band": "13-17"})
        assert r.status_code == 201


async def test_malformed_bodies_are_400_with_error_object(start_node) -> None:
    node = start_node()
    async with httpx.AsyncClient(base_url=node.url) as http:
        for path in ("/api/register", "/api/login"):
            for raw in (b"{", b"[1]", b"\xff", b""):
                r = await http.post(path, content=raw,
                                    headers={"Content-Type": "application/json"})
                assert r.status_code == 400, (path, raw)
                err = r.json()["error"]
                assert err["code"] == "bad_request" and err["message"]


async def test_wrong_password_and_unknown_handle_look_the_same(start_node) -> None:
    node = start_node()
    name = handle()
    await register(node, name)
    async with httpx.AsyncClient(base_url=node.url) as http:
        wrong = await http.post("/api/login", json={"handle": name, "password": "not it at all"})
        unknown = await http.post("/api/login",
                                  json={"handle": handle("nobody"), "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert "set-cookie" not in wrong.headers


async def test_login_throttle_reaches_429_with_retry_after(start_node) -> None:
    node = start_node(auth_login_attempts=3, auth_login_window=60)
    name = handle()
    await register(node, name)
    async with httpx.AsyncClient(base_url=node.url) as http:
        codes = [(await http.post("/api/login", json={"handle": name, "password": "wrong pw!"}))
                 .status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        r = await http.post("/api/login", json={"handle": name, "password": PASSWORD})
        assert r.status_code == 429  # even the right password waits out the window
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert r.json()["error"]["code"] == "rate_limited"
        # per address too: other handles from the same address are throttled
        r = await http.post("/api/login", json={"handle": handle(), "password": "whatever1"})
        assert r.status_code == 429


async def test_logout_revokes_on_both_nodes(two_nodes) -> None:
    a, b = two_nodes
    token = (await register(a, handle()))["token"]
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as http:
        assert (await http.get(b.url + "/api/me", headers=auth)).status_code == 200
        r = await http.post(a.url + "/api/logout", headers=auth)
        assert r.status_code == 204
        assert (await http.get(b.url + "/api/me", headers=auth)).status_code == 401
        assert (await http.get(a.url + "/api/me", headers=auth)).status_code == 401
    c = await Client.connect(b.ws_url, hello=False)
    reply = await c.request("hello", token=token)
    assert reply["ok"] is False and reply["error"]["code"] == "unauthorized"
    await c.close()


async def test_csrf_cookie_with_foreign_origin_is_403(start_node) -> None:
    node = start_node()
    token = (await register(node, handle()))["token"]
    async with httpx.AsyncClient(base_url=node.url, cookies={"session": token}) as http:
        r = await http.post("/api/logout", headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
        r = await http.request("DELETE", "/api/me", json={"password": PASSWORD},
                               headers={"Origin": "null"})
        assert r.status_code == 403
        assert (await http.get("/api/me")).status_code == 200  # still logged in
        # same origin is fine
        r = await http.post("/api/logout", headers={"Origin": node.url})
        assert r.status_code == 204
        assert (await http.get("/api/me")).status_code == 401


async def test_me_without_session_is_401(start_node) -> None:
    node = start_node()
    async with httpx.AsyncClient(base_url=node.url) as http:
        assert (await http.get("/api/me")).status_code == 401
        r = await http.get("/api/me", headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401


# -- audiences -------------------------------------------------------------------
async def test_adult_refused_from_youth_teen_admitted(two_nodes) -> None:
    a, b = two_nodes
    adult = await connect(a, (await register(a, handle("adult"), "18+"))["token"])
    teen = await connect(b, (await register(b, handle("teen"), "13-17"))["token"])
    r = await adult.request("join", room="youth")
    assert r["ok"] is False and r["error"]["code"] == "forbidden"
    await teen.ok("join", room="youth")
    assert "youth" in teen.seen[0]["rooms"] and "youth" not in adult.seen[0]["rooms"]
    await adult.close()
    await teen.close()


async def test_guest_refused_from_age_restricted_and_guestless_rooms(start_node) -> None:
    node = start_node(rooms_general_guests=False)
    guest = await Client.connect(node.ws_url, guest="visitor")
    assert "age_band" not in guest.user
    for room in ("youth", "general"):
        r = await guest.request("join", room=room)
        assert r["ok"] is False and r["error"]["code"] == "forbidden", room
    await guest.ok("join", room="ptsd")
    await guest.close()


# -- block lists -------------------------------------------------------------------
async def test_block_honoured_across_nodes_and_reconnects(two_nodes) -> None:
    a, b = two_nodes
    login = await register(a, handle("blocker"))
    pest_name = handle("Pest")
    pest = await connect(b, (await register(b, pest_name))["token"])
    other = await Client.connect(b.ws_url, guest="friend")
    blocker = await connect(a, login["token"])
    blocker2 = await connect(b, login["token"])  # same user, the other node
    for c in (pest, other, blocker, blocker2):
        await c.ok("join", room="general")
    r = await blocker.request("block", handle="no-such-user")
    assert r["ok"] is False and r["error"]["code"] == "not_found"
    await blocker.ok("block", handle=pest_name.upper())
    # No wait needed: the block is published on the control channel before the reply,
    # and one subscriber gets a Redis server's publishes in order, so blocker2's node
    # applies it before it can see anything pest sends next.
    await pest.ok("send", room="general", text="you should not see this")
    marker = await other.ok("send", room="general", text="marker")
    for c in (blocker, blocker2):
        got = await c.messages(1, room="general")
        assert got[0]["id"] == marker["id"]
    # after a reconnect, still blocked, in history too
    await blocker.close()
    again = await connect(b, login["token"])
    joined = await again.ok("join", room="general")
    texts = [m["text"] for m in joined["messages"]]
    assert "marker" in texts and "you should not see this" not in texts
    await again.ok("unblock", handle=pest_name)
    await pest.ok("send", room="general", text="visible again")
    assert (await again.messages(1, room="general"))[0]["text"] == "visible again"
    for c in (pest, other, blocker2, again):
        await c.close()


async def test_guest_can_block_a_guest(start_node) -> None:
    node = start_node()
    one = await Client.connect(node.ws_url, guest="one")
    two = await Client.connect(node.ws_url, guest="two")
    await one.ok("block", handle=two.user["handle"])
    for c in (one, two):
        await c.ok("join", room="general")
    await two.ok("send", room="general", text="hidden")
    mark = await one.ok("send", room="general", text="mine")
    assert (await one.messages(1, room="general"))[0]["id"] == mark["id"]
    await one.close()
    await two.close()


# -- enforcement primitives ----------------------------------------------------------
async def test_ban_closes_on_other_node_and_hello_fails(two_nodes, accounts) -> None:
    a, b = two_nodes
    name = handle("banned")
    token = (await register(a, name))["token"]
    conn_b = await connect(b, token)
    conn_a = await connect(a, token)
    who = await accounts.find_user(name.lower())
    assert who is not None and who.handle == name
    loop = asyncio.get_running_loop()
    start = loop.time()
    await accounts.ban(who.user_id, "spam")
    for c in (conn_a, conn_b):
        code, _ = await c.closed(timeout=2)
        assert code == 1008
    assert loop.time() - start < 1.5
    assert await accounts.is_banned(who.user_id)
    c = await Client.connect(b.ws_url, hello=False)
    reply = await c.request("hello", token=token)
    assert reply["error"]["code"] == "banned"
    assert (await c.closed())[0] == 1008
    await accounts.unban(who.user_id)
    again = await connect(a, token)
    await again.close()


async def test_mute_and_unmute(start_node, accounts) -> None:
    node = start_node()
    name = handle("muted")
    c = await connect(node, (await register(node, name))["token"])
    await c.ok("join", room="general")
    who = await accounts.find_user(name)
    assert who is not None
    await accounts.mute(who.user_id, 5)
    left = await accounts.muted_for(who.user_id)
    assert left is not None and 290 < left <= 300
    r = await c.request("send", room="general", text="hello?")
    assert r["error"]["code"] == "muted"
    await accounts.unmute(who.user_id)
    assert await accounts.muted_for(who.user_id) is None
    await c.ok("send", room="general", text="hello again")
    await accounts.mute(who.user_id, None)
    assert await accounts.muted_for(who.user_id) == float("inf")
    await accounts.mute(who.user_id, 0.001)  # 60 ms
    await asyncio.sleep(0.2)
    await c.ok("send", room="general", text="expired")
    await c.close()


async def test_find_user_finds_live_guests(start_node, accounts) -> None:
    node = start_node()
    g = await Client.connect(node.ws_url, guest="drifter")
    found = await accounts.find_user(g.user["handle"].upper())
    assert found is not None and found.role == "guest" and found.user_id.startswith("g:")
    assert await accounts.find_user("nobody-here") is None
    await g.close()


# -- deletion -----------------------------------------------------------------------
async def test_delete_account_retracts_messages_and_closes_sockets(two_nodes) -> None:
    a, b = two_nodes
    name = handle("leaving")
    token = (await register(a, name))["token"]
    leaver = await connect(a, token)
    other_socket = await connect(b, token)
    watcher = await Client.connect(b.ws_url, guest="watcher")
    for c in (leaver, watcher):
        await c.ok("join", room="general")
    await leaver.ok("join", room="ptsd")
    sent = [await leaver.ok("send", room="general", text=f"mine {i}") for i in range(3)]
    sent.append(await leaver.ok("send", room="ptsd", text="elsewhere"))
    keep = await watcher.ok("send", room="general", text="stays")
    await watcher.messages(4, room="general")
    async with httpx.AsyncClient(base_url=b.url) as http:
        auth = {"Authorization": f"Bearer {token}"}
        r = await http.request("DELETE", "/api/me", json={"password": "wrong password"},
                               headers=auth)
        assert r.status_code == 403
        r = await http.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=auth)
        assert r.status_code == 204
        assert (await http.get("/api/me", headers=auth)).status_code == 401
        login = await http.post("/api/login", json={"handle": name, "password": PASSWORD})
        assert login.status_code == 401
    retracted = {(await watcher.next_event("retract"))["id"] for _ in range(3)}
    assert retracted == {s["id"] for s in sent[:3]}
    for c in (leaver, other_socket):
        code, _ = await c.closed(timeout=3)
        assert code == 1000
    fresh = await Client.connect(a.ws_url, guest="fresh")
    joined = await fresh.ok("join", room="general")
    assert [m["id"] for m in joined["messages"]] == [keep["id"]]
    joined = await fresh.ok("join", room="ptsd")
    assert joined["messages"] == []
    # the handle is free again
    await register(a, name)
    await fresh.close()
    await watcher.close()


# -- CLI -----------------------------------------------------------------------------
def _cli(node, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chatserver", "users", *args], input=stdin,
                          capture_output=True, text=True, env=node.env, cwd=str(ROOT),
                          timeout=60)


async def test_cli_adds_a_moderator_who_can_log_in(start_node) -> None:
    node = start_node()
    name = handle("Mod")
    done = await asyncio.to_thread(_cli, node, "add", name, "--role", "moderator",
                                   "--age-band", "18+", stdin=PASSWORD + "\nignored\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["role"] == "moderator"
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/login", json={"handle": name, "password": PASSWORD})
    assert r.status_code == 200
    assert r.json()["user"]["role"] == "moderator"
    assert "moderator" in r.json()["user"]["badges"]
    mod = await connect(node, r.json()["token"])
    await mod.ok("join", room="youth")  # staff may enter youth rooms
    await mod.close()
    dup = await asyncio.to_thread(_cli, node, "add", name.lower(), "--age-band", "18+",
                                  stdin=PASSWORD + "\n")
    assert dup.returncode == 1 and "taken" in dup.stderr
    changed = await asyncio.to_thread(_cli, node, "set-role", name, "supporter")
    assert changed.returncode == 0, changed.stderr
    listed = await asyncio.to_thread(_cli, node, "list")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = [u for u in rows if u["handle"] == name]
    assert mine and mine[0]["role"] == "supporter"
    assert "hash" not in listed.stdout and PASSWORD not in listed.stdout
