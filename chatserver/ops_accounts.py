"""`block` / `unblock`: a user's own boundary, kept in Redis and honoured on every node."""

from __future__ import annotations

from typing import Any

from chatserver.accounts import Accounts
from chatserver.connection import Connection
from chatserver.protocol import OpError, Request
from chatserver.services import Handler, Services


def _accounts(s: Services) -> Accounts:
    accounts: Accounts | None = s.extras.get("accounts")
    if accounts is None:
        raise OpError("unavailable", "block lists are not available on this server")
    return accounts


async def _set_blocked(s: Services, conn: Connection, req: Request,
                       blocked: bool) -> dict[str, Any]:
    assert conn.identity is not None
    accounts = _accounts(s)
    handle: str = req.args["handle"]
    if handle.lower() == conn.identity.handle.lower():
        raise OpError("bad_request", "you cannot block yourself")
    if blocked and await accounts.find_user(handle) is None:
        raise OpError("not_found", f"no user {handle[:40]!r}")
    # The control message updates this user's connections on every node,
    # this one included; set it here too so the reply is already true.
    handles = await accounts.set_blocked(conn.identity, handle, blocked)
    conn.blocked = set(handles)
    return {}


async def op_block(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    return await _set_blocked(s, conn, req, True)


async def op_unblock(s: Services, conn: Connection, req: Request) -> dict[str, Any]:
    return await _set_blocked(s, conn, req, False)


ACCOUNT_OPS: dict[str, Handler] = {
    "block": op_block,
    "unblock": op_unblock,
}
