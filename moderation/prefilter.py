"""One RE2 call telling which of a few patterns can occur in a text, to skip `re` work.

Each pattern stands for a Python regex whose pass would otherwise scan the text; it
must match wherever that regex does (RE2 has no look-around, so it is usually a little
looser). A regex whose pattern RE2 rules out cannot match, so skipping it changes
nothing; one RE2 scan for several regexes costs about as much as one `re` scan.

Only for small sets: RE2 answers a set with one lazily built automaton whose states
are sets of pattern positions, and for the thousand-pattern trigger and cue lexicons
(look-around dropped) those blew up on varied text, to 0.5-7 ms a message. The few
evasion patterns stay at about 1 us whatever the text.

Without the `google-re2` package every pattern counts as possible: slower, never
different.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    import re2
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    re2 = None

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
