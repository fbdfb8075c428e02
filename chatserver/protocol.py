"""The wire codec: bytes in, validated requests out; results in, frames out.

Sans-I/O in the style of python-websockets' `protocol.py`: nothing here reads
a socket or a clock, so every rule of PROTOCOL.md's Frames section can be
unit-tested by feeding values. The connection loop owns the I/O.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

import msgpack
from websockets.frames import Frame, Opcode

JSON_SUBPROTOCOL = "peerchat.v1"
MSGPACK_SUBPROTOCOL = "peerchat.v1.msgpack"

# Close codes (PROTOCOL.md, "Close codes").
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_BANNED = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_RESTARTING = 1012
CLOSE_NO_HELLO = 4001
CLOSE_TOO_SLOW = 4008
CLOSE_VIOLATIONS = 4029

_OPT = False
_REQ = True

# op -> {arg: (python type, required)}. Types are checked exactly (bool is not int).
OPS: dict[str, dict[str, tuple[type, bool]]] = {
    "hello": {"token": (str, _OPT), "guest": (dict, _OPT), "locale": (str, _OPT)},
    "join": {"room": (str, _REQ), "since": (str, _OPT)},
    "leave": {"room": (str, _REQ)},
    "send": {"room": (str, _REQ), "text": (str, _REQ), "nonce": (str, _OPT)},
    "history": {"room": (str, _REQ), "before": (str, _REQ), "limit": (int, _OPT)},
    "typing": {"room": (str, _REQ)},
    "report": {"room": (str, _REQ), "id": (str, _REQ), "reason": (str, _OPT)},
    "block": {"handle": (str, _REQ)},
    "unblock": {"handle": (str, _REQ)},
    "ping": {},
    "mod.watch": {},
    "mod.claim": {"flag": (str, _REQ)},
    "mod.release": {"flag": (str, _REQ)},
    "mod.resolve": {"flag": (str, _REQ), "outcome": (str, _REQ), "note": (str, _OPT)},
    "mod.approve": {"room": (str, _REQ), "id": (str, _REQ)},
    "mod.hide": {"room": (str, _REQ), "id": (str, _REQ)},
    "mod.mute": {"handle": (str, _REQ), "minutes": (float, _OPT), "reason": (str, _OPT)},
    "mod.unmute": {"handle": (str, _REQ), "reason": (str, _OPT)},
    "mod.ban": {"handle": (str, _REQ), "reason": (str, _REQ)},
    "mod.slowmode": {"room": (str, _REQ), "seconds": (float, _REQ)},
    "mod.lock": {"room": (str, _REQ), "locked": (bool, _REQ)},
    "mod.checkin": {"handle": (str, _REQ), "text": (str, _REQ)},
    "mod.escalate": {"flag": (str, _REQ), "note": (str, _OPT)},
}
MAX_REF_CHARS = 128


class BadFrame(Exception):
    """The frame breaks the Frames rules: answer `bad_request`, keep the connection."""

    def __init__(self, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ref = ref


@dataclass(frozen=True, slots=True)
class Request:
    op: str
    ref: str | None
    args: dict[str, Any]


def decode(data: str | bytes) -> Any:
    """Text frames are JSON; binary frames are msgpack (the `.msgpack` subprotocol)."""
    if isinstance(data, str):
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            # ValueError also covers valid JSON Python refuses to parse: an integer
            # past its 4300-digit limit would otherwise kill the connection (1011).
            raise BadFrame("frame is not valid JSON") from None
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, max_bin_len=0,
                               max_ext_len=0)
    except Exception:  # msgpack raises a family of unrelated errors for bad input
        raise BadFrame("frame is not valid msgpack") from None


def _read_ref(obj: dict[str, Any]) -> str | None:
    ref = obj.get("ref")
    if isinstance(ref, str) and len(ref) <= MAX_REF_CHARS:
        return ref
    return None


def parse(obj: Any) -> Request:
    """Validate a decoded frame against OPS; unknown extra arguments are ignored."""
    if not isinstance(obj, dict):
        raise BadFrame("frame must be an object")
    ref = _read_ref(obj)
    if "ref" in obj and ref is None:
        raise BadFrame(f"ref must be a string of at most {MAX_REF_CHARS} characters")
    op = obj.get("op")
    if not isinstance(op, str):
        raise BadFrame("op must be a string", ref)
    schema = OPS.get(op)
    if schema is None:
        raise BadFrame(f"unknown op {op[:40]!r}", ref)
    if ref is None and op != "typing":
        raise BadFrame("ref is required", None)
    args: dict[str, Any] = {}
    for name, (kind, required) in schema.items():
        if name not in obj or obj[name] is None:
            if required:
                raise BadFrame(f"{op}: missing argument {name!r}", ref)
            continue
        value = obj[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not kind:
            raise BadFrame(f"{op}: {name!r} must be {_TYPE_NAMES[kind]}", ref)
        args[name] = value
    if op == "history" and "limit" in args and not 1 <= args["limit"] <= 100:
        raise BadFrame("history: limit must be between 1 and 100", ref)
    return Request(op, ref, args)


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               dict: "an object"}


def reply(ref: str | None, **result: Any) -> dict[str, Any]:
    return {"type": "reply", "ref": ref, "ok": True, **result}


def error(ref: str | None, code: str, message: str,
          retry_after: float | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if retry_after is not None:
        err["retry_after"] = round(retry_after, 3)
    return {"type": "reply", "ref": ref, "ok": False, "error": err}


class OpError(Exception):
    """An op failed with a protocol error code (`not_joined`, `forbidden`, ...)."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


def encode_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def encode_msgpack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


class Outgoing:
    """One server frame, encoded at most once per format however many receive it."""

    __slots__ = ("_json", "_msgpack", "_wire", "obj")

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self._json: str | None = None
        self._msgpack: bytes | None = None
        self._wire: list[bytes | None] = [None, None]

    def wire(self, binary: bool) -> bytes:
        """The whole WebSocket frame (server frames are unmasked, uncompressed)."""
        framed = self._wire[binary]
        if framed is None:
            data = self.for_format(binary)
            if isinstance(data, str):
                framed = Frame(Opcode.TEXT, data.encode()).serialize(mask=False)
            else:
                framed = Frame(Opcode.BINARY, data).serialize(mask=False)
            self._wire[binary] = framed
        return framed

    def for_format(self, binary: bool) -> str | bytes:
        if binary:
            if self._msgpack is None:
                self._msgpack = encode_msgpack(self.obj)
            return self._msgpack
        if self._json is None:
            self._json = encode_json(self.obj)
        return self._json


class ViolationCounter:
    """Counts `bad_request` replies in a sliding minute; says when to close with 4029."""

    __slots__ = ("_times", "limit", "window")

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] | None = None  # made on the first violation: most never have one

    def add(self, now: float) -> bool:
        """Record one violation at `now`; True when the limit is reached."""
        if self._times is None:
            self._times = deque()
        times = self._times
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        return len(times) >= self.limit


def choose_subprotocol(offered: list[str]) -> str | None:
    """The first protocol we speak among those offered, in the client's order."""
    for proto in offered:
        if proto in (JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL):
            return proto
    return None
