"""Cheap RE2 checks telling which of a few regexes can match a text, to skip `re` work.

Each pattern given to a Prefilter must match wherever the regex it stands for can
(RE2 has no look-around, so it is usually a little looser; `loosen` derives one from
a Python regex). A regex whose pattern RE2 rules out cannot match, so skipping it
changes nothing, and one RE2 scan for several regexes costs about one `re` scan.

Only for small sets of small patterns (the evasion passes, the contact gates): RE2
answers a set with one automaton built lazily, state by state, and for the
thousand-pattern trigger and cue lexicons it kept building states on varied text
(0.5-7 ms a message). Small sets settle after some thousands of messages; before
that a message costs 10-15 us at worst, about what the `re` scans would.

Without the `google-re2` package every pattern counts as possible: slower, never
different.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# The parser `re` itself uses, so the loosened form is read from exactly the structure
# that `re` compiles (private, but stable since 3.11; any surprise disables the pattern).
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

try:
    import re2
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    re2 = None

_MAX_CP = 0x10FFFF
_RE2_MAX_REPEAT = 1000  # RE2 rejects counted repetition above this
_CATEGORY_SOURCE = {
    _sre.CATEGORY_DIGIT: r"\d",
    _sre.CATEGORY_NOT_DIGIT: r"\D",
    _sre.CATEGORY_SPACE: r"\s",
    _sre.CATEGORY_NOT_SPACE: r"\S",
    _sre.CATEGORY_WORD: r"\w",
    _sre.CATEGORY_NOT_WORD: r"\W",
}
# ASCII members of each class escape, as Python's `re` itself decides them.
_CATEGORY_ASCII = {
    cat: frozenset(c for c in range(128) if re.match(src, chr(c)))
    for cat, src in _CATEGORY_SOURCE.items()
}


class _Unsupported(Exception):
    """A construct this module does not loosen; the pattern is then never ruled out."""


def _cp(c: int) -> str:
    return chr(c) if c < 128 and chr(c).isalnum() else f"\\x{{{c:x}}}"


def _loosen_class(items: Sequence[tuple[Any, Any]]) -> str:
    ascii_set: set[int] = set()
    wide: list[tuple[int, int]] = []
    any_wide = False  # every non-ASCII character may match
    negate = False
    for op, av in items:
        if op is _sre.NEGATE:
            negate = True
        elif op is _sre.LITERAL:
            if av < 128:
                ascii_set.add(av)
            else:
                wide.append((av, av))
        elif op is _sre.RANGE:
            lo, hi = av
            ascii_set.update(range(lo, min(hi, 127) + 1))
            if hi >= 128:
                wide.append((max(lo, 128), hi))
        elif op is _sre.CATEGORY and av in _CATEGORY_ASCII:
            ascii_set |= _CATEGORY_ASCII[av]
            any_wide = True
        else:
            raise _Unsupported(op)
    if negate:
        ascii_set = set(range(128)) - ascii_set
        any_wide = True
    parts = [_cp(c) for c in sorted(ascii_set)]
    if any_wide:
        parts.append(f"{_cp(128)}-{_cp(_MAX_CP)}")
    else:
        parts.extend(_cp(a) if a == b else f"{_cp(a)}-{_cp(b)}" for a, b in wide)
    return "[" + "".join(parts) + "]" if parts else f"[^{_cp(0)}-{_cp(_MAX_CP)}]"


_ASCII_WORD = frozenset(c for c in range(128) if re.match(r"\w", chr(c)))


_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)


def _ends_in_word(seq: Iterable[tuple[Any, Any]]) -> bool:
    """Whether every match of this sequence ends with an ASCII word character."""
    items = [item for item in seq if item[0] not in _ZERO_WIDTH]
    if not items:
        return False
    op, av = items[-1]
    if op is _sre.LITERAL:
        return bool(av in _ASCII_WORD)
    if op is _sre.IN:
        return all(
            (o is _sre.LITERAL and a in _ASCII_WORD)
            or (o is _sre.RANGE and all(c in _ASCII_WORD for c in range(a[0], a[1] + 1)))
            for o, a in av
        )
    if op is _sre.SUBPATTERN:
        sub = list(av[3])
        return _ends_in_word(sub) or (not sub and _ends_in_word(items[:-1]))
    if op is _sre.BRANCH:
        alts = [list(b) for b in av[1]]
        if not all(_ends_in_word(b) for b in alts if b):
            return False
        return all(alts) or _ends_in_word(items[:-1])  # an empty one ends where we began
    return False


def _loosen_seq(seq: Iterable[tuple[Any, Any]]) -> str:
    out: list[str] = []
    done: list[tuple[Any, Any]] = []  # the elements before this one
    for op, av in seq:
        if op is _sre.LITERAL:
            out.append(_cp(av))
        elif op is _sre.NOT_LITERAL:
            out.append(f"[^{_cp(av)}]")
        elif op is _sre.ANY:
            out.append("(?s:.)")
        elif op is _sre.IN:
            out.append(_loosen_class(av))
        elif op is _sre.BRANCH:
            out.append("(?:" + "|".join(_loosen_seq(b) for b in av[1]) + ")")
        elif op is _sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if (add_flags & ~_sre.SRE_FLAG_UNICODE) or del_flags:
                raise _Unsupported("inline flags")
            out.append(f"(?:{_loosen_seq(sub)})")
        elif op is _sre.ATOMIC_GROUP:
            out.append(f"(?:{_loosen_seq(av)})")
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            if lo > _RE2_MAX_REPEAT:
                raise _Unsupported("repeat")
            top = "" if hi is _sre.MAXREPEAT or hi > _RE2_MAX_REPEAT else str(hi)
            out.append(f"(?:{_loosen_seq(sub)}){{{lo},{top}}}")
        elif op is _sre.AT and av is _sre.AT_BOUNDARY and _ends_in_word(done):
            # After an ASCII word character Python's \b means "no word character
            # next", RE2's "no ASCII word character next": never stricter. (For a
            # search of the whole text: a window's end would be a boundary to `re`.)
            out.append(r"\b")
        elif op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
            continue  # zero-width: dropping it only adds matches
        elif op is _sre.GROUPREF:
            out.append("(?s:.)*")
        elif op is _sre.GROUPREF_EXISTS:
            _group, yes, no = av
            out.append(f"(?:{_loosen_seq(yes)}|{_loosen_seq(no) if no else ''})")
        else:
            raise _Unsupported(op)
        done.append((op, av))
    return "".join(out)


def loosen(source: str) -> str | None:
    """An RE2 pattern matching wherever the Python regex `source` can search the whole
    text (and maybe more), or None when the regex uses what this module does not handle:
    look-around and anchors are dropped, classes with an escape or a negation take in
    every non-ASCII character, and \\b is kept only after an ASCII word character."""
    try:
        parsed = _sre_parse.parse(source)
        if parsed.state.flags & ~_sre.SRE_FLAG_UNICODE:
            return None
        return _loosen_seq(parsed.data)
    except (_Unsupported, re.error, AttributeError, TypeError, ValueError):
        return None


_MAX_MEM = 32 << 20  # room for the automaton's states over the varied texts of a chat
# RE2 sets report "no match" when the automaton cannot even start within the memory
# budget; that is decided once per set, so one probe for a known pattern tells it apart.
_SENTINEL = "\x00\x01re2-prefilter-probe"
_SENTINEL_RE2 = r"\x00\x01re2-prefilter-probe"


class Prefilter:
    """Which of several RE2 patterns occur in a text: never misses one."""

    __slots__ = ("_all", "_set")

    def __init__(self, patterns: Sequence[str]) -> None:
        self._all: frozenset[int] = frozenset(range(len(patterns)))
        self._set: Any = None
        if re2 is None:
            return
        opts = re2.Options()
        opts.log_errors = False
        opts.max_mem = _MAX_MEM
        rset = re2.Set.SearchSet(opts)
        try:
            for i, pattern in enumerate(patterns):
                if rset.Add(pattern) != i:
                    return
            sentinel = rset.Add(_SENTINEL_RE2)
            rset.Compile()
        except re2.error:
            return
        if sentinel in (rset.Match(_SENTINEL) or ()):
            self._set = rset

    @classmethod
    def of_regexes(cls, sources: Sequence[str]) -> Prefilter:
        """A prefilter for Python regexes (searched over a whole text), loosened for
        RE2; one that cannot be loosened is never ruled out."""
        return cls([loosen(s) or "" for s in sources])

    def possible(self, text: str) -> frozenset[int]:
        """Patterns that may occur in `text` (all of them when unsure). The result may
        also hold a number past the last pattern; it means nothing."""
        rset = self._set
        if rset is None:
            return self._all
        try:
            data = text.encode()
        except UnicodeEncodeError:  # lone surrogates: RE2 needs valid UTF-8
            return self._all
        hits: list[int] | None = rset.Match(data)
        return frozenset(hits) if hits else frozenset()
