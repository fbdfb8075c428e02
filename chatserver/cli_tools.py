"""`chatserver audit`, `chatserver moderation classify`, `chatserver resources list`."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from chatserver.config import Config, load_config


def classify_lines(lines: TextIO, out: TextIO) -> int:
    """JSON lines {"id","room","text"[,"lang"]} in; {"id","labels","severity","evidence"} out.

    One output line per input line, in order. A line that is not a valid request
    still gets a line (with an "error"), so outputs stay aligned with inputs.
    """
    from moderation.detector import default_detector

    detector = default_detector()
    bad = 0
    for raw in lines:
        if not raw.strip():
            continue
        req: Any = None
        try:
            req = json.loads(raw)
            if not isinstance(req, dict) or not isinstance(req.get("text"), str):
                raise ValueError("expected an object with a string text")
            room = str(req["room"]) if isinstance(req.get("room"), str) else "general"
            lang = str(req["lang"]) if isinstance(req.get("lang"), str) else None
            verdict = detector.classify(req["text"], room=room, lang=lang)
            out.write(json.dumps({"id": req.get("id"), **verdict.to_dict()},
                                 ensure_ascii=False) + "\n")
        except (ValueError, json.JSONDecodeError) as exc:
            bad += 1
            ident = req.get("id") if isinstance(req, dict) else None
            out.write(json.dumps({"id": ident, "labels": [], "severity": "none",
                                  "evidence": [], "error": str(exc)}) + "\n")
        out.flush()
    return 1 if bad else 0


def cmd_classify(args: argparse.Namespace) -> int:
    return classify_lines(sys.stdin, sys.stdout)


def cmd_resources(args: argparse.Namespace) -> int:
    from moderation.referrals import default_directory

    for line in default_directory().report(datetime.date.today()):
        print(line)
    return 0


def _with_store(cfg: Config, fn: Callable[[Any], Any]) -> int:
    from chatserver.broker import BrokerUnavailable
    from chatserver.broker.moderation import ModerationStore
    from chatserver.cli_redis import run_with_broker

    async def run(broker: Any) -> int:
        await fn(ModerationStore(broker))
        return 0

    try:
        return run_with_broker(cfg, run)
    except BrokerUnavailable as exc:
        print(f"chatserver: {exc}", file=sys.stderr)
        return 1


def cmd_audit(args: argparse.Namespace, cfg: Config) -> int:
    from chatserver.audit import read_entries, since_to_stream_id

    try:
        since = since_to_stream_id(args.since)
    except ValueError as exc:
        print(f"chatserver: {exc}", file=sys.stderr)
        return 2

    async def dump(store: Any) -> None:
        for entry in await read_entries(store, since):
            print(json.dumps(entry, ensure_ascii=False))

    return _with_store(cfg, dump)


def add_tool_parsers(sub: Any, config_path: Callable[[str | None], str | None]) -> None:
    audit = sub.add_parser("audit", help="print the moderators' audit log as JSON lines")
    audit.add_argument("--config")
    audit.add_argument("--since", help="only entries from this time (unix ms or ISO 8601)")
    audit.add_argument("--json", action="store_true",
                       help="JSON lines (the only format; accepted for scripts)")
    audit.set_defaults(func=lambda a: cmd_audit(a, load_config(config_path(a.config))))
    mod = sub.add_parser("moderation", help="run the moderation detector")
    mod_cmds = mod.add_subparsers(dest="moderation_command", required=True)
    classify = mod_cmds.add_parser(
        "classify", help='read {"id","room","text"} JSON lines, write verdicts')
    classify.set_defaults(func=cmd_classify)
    res = sub.add_parser("resources", help="referral resources")
    res_cmds = res.add_subparsers(dest="resources_command", required=True)
    listing = res_cmds.add_parser("list", help="every entry with status and age")
    listing.set_defaults(func=cmd_resources)
