"""Sans-I/O cores, fed directly: no event loop, no socket, no Redis."""

from __future__ import annotations

import json

import msgpack
import pytest

from chatserver.config import ConfigError, load_config
from chatserver.origin import origin_allowed
from chatserver.protocol import (
    BadFrame,
    Outgoing,
    ViolationCounter,
    choose_subprotocol,
    decode,
    parse,
)
from rooms.history import Cursor, decide_recovery, parse_id
from rooms.identity import Identity
from rooms.registry import Room, admission_error
from rooms.text import TextError, clean_text


def test_parse_valid_and_ignores_extra_args() -> None:
    req = parse(decode(json.dumps({"op": "send", "ref": "1", "room": "g", "text": "t",
                                   "extra": [1]})))
    assert (req.op, req.ref, req.args) == ("send", "1", {"room": "g", "text": "t"})


@pytest.mark.parametrize("frame,ref", [
    ("nope", None), ("[]", None), ('{"op": 3, "ref": "a"}', "a"),
    ('{"op": "dance", "ref": "b"}', "b"), ('{"op": "join", "ref": "c"}', "c"),
    ('{"op": "join", "ref": "d", "room": 1}', "d"),
    ('{"op": "mod.lock", "ref": "e", "room": "x", "locked": 1}', "e"),
    ('{"op": "history", "ref": "f", "room": "x", "before": "1-0", "limit": 101}', "f"),
    ('{"op": "join", "room": "x"}', None), ('{"op": "join", "ref": 5, "room": "x"}', None),
    ("[" * 100000, None),
])
def test_bad_frames_carry_ref_when_readable(frame: str, ref: str | None) -> None:
    with pytest.raises(BadFrame) as info:
        parse(decode(frame))
    assert info.value.ref == ref


def test_typing_needs_no_ref_and_msgpack_decodes() -> None:
    assert parse(decode('{"op": "typing", "room": "g"}')).ref is None
    assert parse(decode(msgpack.packb({"op": "ping", "ref": "p"}))).op == "ping"
    with pytest.raises(BadFrame):
        decode(b"\xc1")


def test_outgoing_encodes_once_per_format() -> None:
    out = Outgoing({"type": "message", "text": "é"})
    assert out.for_format(False) is out.for_format(False)
    assert json.loads(out.for_format(False)) == {"type": "message", "text": "é"}
    assert msgpack.unpackb(out.for_format(True)) == {"type": "message", "text": "é"}


def test_violation_counter_slides() -> None:
    v = ViolationCounter(3, window=60)
    assert not v.add(0) and not v.add(1)
    assert v.add(2)
    v2 = ViolationCounter(3, window=60)
    v2.add(0)
    v2.add(1)
    assert not v2.add(61)  # the first one has left the window


def test_subprotocol_choice() -> None:
    assert choose_subprotocol(["x", "peerchat.v1.msgpack", "peerchat.v1"]) \
        == "peerchat.v1.msgpack"
    assert choose_subprotocol(["x"]) is None


def test_clean_text() -> None:
    assert clean_text(" a\x00b\u202ac\u2069\n ", 10) == "ab" + "c"
    assert clean_text("👩\u200d💻", 10) == "👩\u200d💻"
    with pytest.raises(TextError) as e:
        clean_text("\x07 ", 10)
    assert e.value.code == "bad_request"
    with pytest.raises(TextError) as e:
        clean_text("x" * 11, 10)
    assert e.value.code == "too_long"


def test_recovery_decisions() -> None:
    assert parse_id("12-3") == (12, 3) and parse_id("12") is None and parse_id("a-1") is None
    assert decide_recovery((5, 0), (3, 0), 4, 10).recovered
    assert not decide_recovery((2, 0), (3, 0), 4, 10).recovered  # trimmed past since
    assert not decide_recovery((5, 0), (3, 0), 11, 10).recovered  # too many missed
    assert not decide_recovery((5, 0), None, 0, 10).recovered  # stream gone


def test_cursor_drops_repeats_and_old() -> None:
    c = Cursor((5, 0))
    assert not c.advance((4, 9)) and not c.advance((5, 0))
    assert c.advance((5, 1)) and not c.advance((5, 1))


def test_admission() -> None:
    youth = Room("youth", "Y", "d", "g", audience="youth", guests=False)
    adults = Room("adults", "A", "d", "g", audience="adults")
    teen = Identity("1", "t", "peer", "13-17")
    adult = Identity("2", "a", "peer", "18+")
    guest = Identity("3", "g-1", "guest")
    mod = Identity("4", "m", "moderator", "18+")
    assert admission_error(youth, teen) is None
    assert admission_error(youth, adult) == "forbidden"
    assert admission_error(youth, guest) == "forbidden"
    assert admission_error(youth, mod) is None
    assert admission_error(adults, teen) == "forbidden"
    assert admission_error(adults, adult) is None


def test_origin_rules() -> None:
    assert origin_allowed("http://localhost:8000", "localhost:8000", [])
    assert origin_allowed("https://chat.example", "chat.example:443", [])
    assert not origin_allowed("http://localhost:8001", "localhost:8000", [])
    assert not origin_allowed("null", "localhost:8000", ["null"])
    assert origin_allowed("https://app.example", "x", ["https://app.example/"])


def test_config_env_overrides_and_errors(tmp_path) -> None:
    cfg = load_config(None, env={"CHATSERVER_LIMITS_SEND_RATE": "2.5",
                                 "CHATSERVER_AUTH_ALLOW_GUESTS": "false",
                                 "CHATSERVER_SERVER_ALLOWED_ORIGINS": "https://a, https://b"})
    assert cfg.limits.send_rate == 2.5 and cfg.auth.allow_guests is False
    assert cfg.server.allowed_origins == ["https://a", "https://b"]
    with pytest.raises(ConfigError, match=r"limits.send_burst"):
        load_config(None, env={"CHATSERVER_LIMITS_SEND_BURST": "lots"})
    with pytest.raises(ConfigError, match=r"CHATSERVER_LIMITS_SEND_RAT"):
        load_config(None, env={"CHATSERVER_LIMITS_SEND_RAT": "1"})
    with pytest.raises(ConfigError, match=r"history.on_join"):
        load_config(None, env={"CHATSERVER_HISTORY_ON_JOIN": "-1"})
    bad = tmp_path / "c.toml"
    bad.write_text('[limits]\nmax_frame_byte = 5\n')
    with pytest.raises(ConfigError, match=r"limits.max_frame_byte: unknown key"):
        load_config(bad, env={})
    bad.write_text('[rooms.x]\ntitle = "X"\ndescription = "d"\nguidelines = "g"\n'
                   'audience = "kids"\n')
    with pytest.raises(ConfigError, match=r"rooms.x.audience"):
        load_config(bad, env={})


def test_default_config_rooms() -> None:
    from pathlib import Path

    cfg = load_config(Path(__file__).parent.parent / "config.toml", env={})
    slugs = {r.slug: r for r in cfg.rooms}
    assert set(slugs) >= {"general", "ptsd", "substance-use", "youth", "lgbtq"}
    assert slugs["youth"].audience == "youth"
    assert all(slugs[s].audience == "all" and slugs[s].guests
               for s in ("general", "ptsd", "substance-use", "lgbtq"))


def test_readme_documents_every_config_key() -> None:
    from pathlib import Path

    from chatserver.config import reference

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [key for key, *_ in reference() if f"`{key}`" not in readme]
    assert missing == []


def test_wire_frame_is_a_valid_unmasked_websocket_frame() -> None:
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    out = Outgoing({"type": "message", "text": "é" * 300})
    for binary, opcode in ((False, Opcode.TEXT), (True, Opcode.BINARY)):
        reader = StreamReader()
        reader.feed_data(out.wire(binary))
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        assert frame.opcode is opcode and frame.fin
        assert frame.data == (out.for_format(binary) if binary
                              else out.for_format(binary).encode())
        assert out.wire(binary) is out.wire(binary)  # framed once


def test_fast_path_only_for_a_known_protocol() -> None:
    from chatserver.fastpath import raw_frame_writer

    async def plain_send(message: object) -> None:
        return None

    assert raw_frame_writer(plain_send) is None
    assert raw_frame_writer(None) is None
