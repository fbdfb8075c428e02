"""Ruling regexes out with RE2 before Python's `re` runs them; verdicts stay `re`'s.

Python's `re` tries the trigger trie at every word start (about 14 us for a 200-character
message) although four messages in five contain no trigger at all. An RE2 set of the
same patterns answers "could any of these match?" in about 2 us. RE2 has no look-around,
so each pattern is first loosened into one that matches a superset of what it matches
(look-arounds, anchors and word boundaries dropped, character classes widened to every
non-ASCII character unless they list them exactly). RE2 therefore only ever rules a
regex out; a regex it lets through is run by `re` exactly as before. Because nothing
but look-arounds is dropped, a loosened pattern also covers matches that `re` finds
inside a window of the text (`pos`/`endpos`) or in a substring of it.

Without the `google-re2` package, or for a pattern that cannot be loosened, every regex
counts as possible: slower, never different.
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
_SENTINEL = "\x00\x01re2-prefilter-probe"
_MAX_MEM = 64 << 20  # RE2 budget per set; the DFA cache grows lazily up to it
_NEVER = r"[^\x{0}-\x{10ffff}]"  # an RE2 pattern that matches nothing


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


def _loosen_seq(seq: Iterable[tuple[Any, Any]], more: str) -> str:
    out: list[str] = []
    for op, av in seq:
        if op is _sre.LITERAL:
            out.append(_cp(av) + more)
        elif op is _sre.NOT_LITERAL:
            out.append(f"[^{_cp(av)}]{more}")
        elif op is _sre.ANY:
            out.append("(?s:.)" + more)
        elif op is _sre.IN:
            out.append(_loosen_class(av) + more)
        elif op is _sre.BRANCH:
            out.append("(?:" + "|".join(_loosen_seq(b, more) for b in av[1]) + ")")
        elif op is _sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if (add_flags & ~_sre.SRE_FLAG_UNICODE) or del_flags:
                raise _Unsupported("inline flags")
            out.append(f"(?:{_loosen_seq(sub, more)})")
        elif op is _sre.ATOMIC_GROUP:
            out.append(f"(?:{_loosen_seq(av, more)})")
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            if lo > _RE2_MAX_REPEAT:
                raise _Unsupported("repeat")
            top = "" if hi is _sre.MAXREPEAT or hi > _RE2_MAX_REPEAT else str(hi)
            out.append(f"(?:{_loosen_seq(sub, more)}){{{lo},{top}}}")
        elif op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
            continue  # zero-width: dropping it only adds matches
        elif op is _sre.GROUPREF:
            out.append("(?s:.)*")
        elif op is _sre.GROUPREF_EXISTS:
            _group, yes, no = av
            out.append(f"(?:{_loosen_seq(yes, more)}|{_loosen_seq(no, more) if no else ''})")
        else:
            raise _Unsupported(op)
    return "".join(out)


def loosen(source: str, *, stretched: bool = False) -> str | None:
    """An RE2 pattern matching wherever the Python regex `source` can (and maybe more),
    or None when the regex uses something this module does not handle.

    With `stretched`, every character the regex consumes may also be repeated ("kil"
    matches "kiiilll" too), so the pattern also matches wherever `source` would match
    after runs of a repeated letter are collapsed to one: each character of the
    collapsed text stands for a run of that same character."""
    try:
        parsed = _sre_parse.parse(source)
        if parsed.state.flags & ~_sre.SRE_FLAG_UNICODE:
            return None
        return _loosen_seq(parsed.data, "+" if stretched else "")
    except (_Unsupported, re.error, AttributeError, TypeError, ValueError):
        return None


class Prefilter:
    """Which of several groups of regexes might match a text: never misses one.

    Group `i` is given as the sources of the regexes it stands for (or of the patterns
    they were built from); `possible(text)` returns a container holding `i` whenever
    any of them could match `text`, or a substring or window of it. With `re2_syntax`
    the sources are RE2 patterns already, used as given: the caller vouches that each
    matches wherever the regexes it stands for do. With `stretched` (see loosen) the
    answer also covers the text with its repeated letters collapsed.
    """

    __slots__ = ("_all", "_always", "_set")

    def __init__(
        self, groups: Sequence[Iterable[str]], *, re2_syntax: bool = False, stretched: bool = False
    ) -> None:
        self._all: frozenset[int] = frozenset(range(len(groups)))
        self._set: Any = None
        self._always = self._all
        if re2 is None:
            return
        opts = re2.Options()
        opts.max_mem = _MAX_MEM
        opts.log_errors = False
        rset = re2.Set.SearchSet(opts)
        always: set[int] = set()
        # One RE2 pattern per group (an alternation of its members), so RE2 reports
        # group numbers directly and a message matching many members costs one entry.
        for g, sources in enumerate(groups):
            loose = [src if re2_syntax else loosen(src, stretched=stretched) for src in sources]
            alternation = "|".join(f"(?:{x})" for x in loose if x is not None)
            if None in loose:
                always.add(g)
                alternation = _NEVER
            try:
                index = rset.Add(alternation or _NEVER)
            except re2.error:
                always.add(g)
                index = rset.Add(_NEVER)
            if index != g:
                return
        sentinel = rset.Add("".join(_cp(ord(c)) for c in _SENTINEL))
        try:
            rset.Compile()
        except re2.error:
            return
        # RE2 reports "no match" when its DFA cannot even start within the memory
        # budget; that is decided once per set, so one probe tells it apart.
        if sentinel not in (rset.Match(_SENTINEL) or ()):
            return
        self._always = frozenset(always)
        self._set = rset

    def possible(self, text: str) -> frozenset[int]:
        """Groups that may match somewhere in `text` (all of them when unsure). The
        result may also hold numbers past the last group; they mean nothing."""
        rset = self._set
        if rset is None:
            return self._always
        try:
            data = text.encode()
        except UnicodeEncodeError:  # lone surrogates: RE2 needs valid UTF-8
            return self._all
        hits: list[int] | None = rset.Match(data)
        if not hits:
            return self._always
        return self._always.union(hits) if self._always else frozenset(hits)
