"""`chatserver users add | set-role | list`: manage accounts from the shell.

Talks to the Redis the config names (or the embedded one under
server.data_dir) through the same `Accounts` the server uses, so the CLI
and the nodes can never disagree about how an account is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from chatserver.config import Config
from rooms.identity import AGE_BANDS, ROLES

ACCOUNT_ROLES = [r for r in ROLES if r != "guest"]


def run_users(cfg: Config, args: argparse.Namespace) -> int:
    """Run one `users` subcommand; exit status 0 on success, 1 when refused."""
    from chatserver.accounts import AccountError
    from chatserver.broker import BrokerUnavailable
    from chatserver.cli_redis import run_with_broker

    password = ""
    if args.users_command == "add":
        password = sys.stdin.readline().rstrip("\r\n")

    async def act(accounts: Any) -> int:
        if args.users_command == "add":
            ident = await accounts.create_user(args.handle, password, args.age_band, args.role)
            print(json.dumps(ident.user_dict()))
        elif args.users_command == "set-role":
            ident = await accounts.set_role(args.handle, args.role)
            print(json.dumps(ident.user_dict()))
        else:
            for user in await accounts.list_users():
                print(json.dumps(user))
        return 0

    from chatserver.accounts import Accounts

    try:
        return run_with_broker(cfg, lambda broker: act(Accounts(cfg, broker)))
    except AccountError as exc:
        print(f"chatserver users: {exc.message}", file=sys.stderr)
        return 1
    except BrokerUnavailable as exc:
        print(f"chatserver users: {exc}", file=sys.stderr)
        return 1


def add_users_parser(sub: Any, config_path: Callable[[str | None], str | None]) -> None:
    """Register `users` on the main parser's subcommands."""
    users = sub.add_parser("users", help="manage accounts")
    users.add_argument("--config", help="path to config.toml (default: ./config.toml)")
    cmds = users.add_subparsers(dest="users_command", required=True)
    add = cmds.add_parser("add", help="create an account; the password is read from stdin")
    add.add_argument("handle")
    add.add_argument("--role", choices=ACCOUNT_ROLES, default="peer")
    add.add_argument("--age-band", dest="age_band", choices=AGE_BANDS, required=True)
    set_role = cmds.add_parser("set-role", help="change an account's role")
    set_role.add_argument("handle")
    set_role.add_argument("role", choices=ACCOUNT_ROLES)
    cmds.add_parser("list", help="print every account as a JSON line (no secrets)")

    def run(args: argparse.Namespace) -> int:
        from chatserver.config import load_config

        return run_users(load_config(config_path(args.config)), args)

    users.set_defaults(func=run)
