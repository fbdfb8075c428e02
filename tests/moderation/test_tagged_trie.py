"""The split trigger trie and the fast cue lists find exactly what their regexes find."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.detector_bench import make_corpus
from moderation.detector import default_detector
from moderation.lexicon import CueList, tagged_tries, trie_regexes
from moderation.normalize import normalize

HERE = Path(__file__).parent


def _views() -> list[str]:
    rows = [json.loads(line) for line in (HERE / "labelled.jsonl").read_text().splitlines()]
    texts = [str(r["text"]) for r in rows] + make_corpus(300, 5)
    return [normalize(t)[1] for t in texts]


def test_same_matches_and_tags_as_the_tagged_trie() -> None:
    det = default_detector()
    items = [(p, t) for p, t, _lg in det._items[0]]
    full = [re.compile(src) for src in trie_regexes(items, word_start=True)]
    tries = tagged_tries(items, word_start=True)
    assert len(full) == len(tries)
    assert all(tt.scan.groups == 0 for tt in tries)
    for dp in _views():
        for rx, tt in zip(full, tries, strict=True):
            want = [(m.span(), m.lastgroup) for m in rx.finditer(dp)]
            assert [(m.span(), m.lastgroup) for m in tt.finditer(dp)] == want, dp
            first = rx.search(dp)
            assert tt.search(dp) == (first.start() if first else None)
            for pos in {want[0][0][0], want[0][0][0] + 1} if want else ():
                resumed = [(m.span(), m.lastgroup) for m in rx.finditer(dp, pos)]
                assert [(m.span(), m.lastgroup) for m in tt.finditer(dp, pos)] == resumed


def test_misc_patterns_keep_one_tagged_regex() -> None:
    """Patterns that do not start with a literal have no first-character branch."""
    tries = tagged_tries([(r"[0-9]+ pills", "t_a"), ("kill", "t_b")])
    assert len(tries) == 2
    found = list(tries[1].finditer("took 30 pills"))
    assert [(m.span(), (m.lastgroup or "")[:3]) for m in found] == [((5, 13), "t_a")]


def _same(cue: CueList, text: str, pos: int, endpos: int) -> None:
    rx = cue.regex
    want = rx.search(text, pos, endpos)
    got = cue.search(text, pos, endpos)
    assert (got and got.span()) == (want and want.span()), (cue.pattern[:60], text)
    assert [m.span() for m in cue.finditer(text, pos, endpos)] == [
        m.span() for m in rx.finditer(text, pos, endpos)
    ]


def test_cue_lists_match_like_their_regex() -> None:
    det = default_detector()
    cues = {id(c): c for scope in det._cues.values() for rx in scope.values() for c in rx.patterns}
    views = _views()[::3]
    for cue in cues.values():
        for dp in views:
            _same(cue, dp, 0, len(dp))
            _same(cue, dp, len(dp) // 3, 2 * len(dp) // 3)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab i not never dont kil me-.,\u0915\u093e", max_size=30),
       st.integers(0, 30), st.integers(0, 30))
def test_cue_list_windows(text: str, pos: int, endpos: int) -> None:
    cue = CueList(["not", "never", "dont", "kil me", "i", "\u0915\u093e", "b-a"])
    _same(cue, text, pos, endpos)
