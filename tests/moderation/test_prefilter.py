"""The RE2 prefilter may only ever rule out regexes that cannot match (prefilter.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.detector_bench import make_corpus
from moderation import normalize as norm
from moderation import prefilter
from moderation.detector import Detector, default_detector
from moderation.normalize import normalize, normalize_mapped
from moderation.prefilter import Prefilter, loosen

HERE = Path(__file__).parent

# Constructs the lexicons use, and some they do not yet: look-around, classes with
# escapes, negation, non-ASCII ranges, alternation, counted and lazy repeats.
TRICKY = [
    r"(?<![\w\u0900-\u097f])kil+\s*(?:my\s*self|me)(?![\w\u0900-\u097f])",
    r"\bsu+i\s*cide\b",
    r"[^\W\d_](?:[.*_\-~+•·/|]{1,2}[^\W\d_](?![^\W\d_])){2,}",
    r"\d[\d \-.()]{5,18}\d",
    r"(?:snap|ig)\s*[:=]\s*@?[a-z0-9][\w.]{2,29}(?:#\d{4})?",
    r"मर(?:ना|नी)\s*है",
    r"[\u0900-\u097f]+\s*x",
    r"(?=\s*(?:,|$|\s*y))a",
    r"a(?!b)c|x(?<=y)z",
    r"\S+@\S+",
    r"(?:ab|c)*?d{2,3}",
    r"(a)?(?(1)b|c)",
    r"(x)\1",
    r"é+\W",
    r"[^a-z ]{2}",
    r"(?>ab|a)c",
    r".",
]
ALPHABET = "ab cdxyz@.:=_-0123é\u0915\u092e\u0930\u093e\u094d\u2003\n\u00e9\u0301kilsuce"


def _texts() -> list[str]:
    rows = [json.loads(line) for line in (HERE / "labelled.jsonl").read_text().splitlines()]
    texts = [str(r["text"]) for r in rows] + make_corpus(300, 3)
    return [v for t in texts for v in normalize(t)]


def test_every_lexicon_pattern_is_loosened() -> None:
    """A pattern that cannot be loosened is never ruled out: correct, but slow."""
    det = default_detector()
    sources = [p for items in det._items for p, _t, _lg in items]
    sources += [p for group in det._gated_sources for p in group]
    assert [s for s in sources if loosen(s) is None] == []


def test_never_rules_out_a_lexicon_pattern_that_matches() -> None:
    det = default_detector()
    sources = [p for p, _t, _lg in det._items[0]] + [p for g in det._gated_sources for p in g]
    pf = Prefilter([[s] for s in sources])
    compiled = [re.compile(s) for s in sources]
    for text in _texts():
        possible = pf.possible(text)
        missed = [s for i, (s, rx) in enumerate(zip(sources, compiled, strict=True))
                  if i not in possible and rx.search(text)]
        assert missed == [], text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40), st.integers(0, 40), st.integers(0, 40))
def test_never_rules_out_a_match_anywhere(text: str, pos: int, endpos: int) -> None:
    """Also for searches in a window of the text, as the detector's cue lookups do."""
    pf = Prefilter([[s] for s in TRICKY])
    possible = pf.possible(text)
    for i, src in enumerate(TRICKY):
        rx = re.compile(src)
        if rx.search(text) or rx.search(text, pos, endpos):
            assert i in possible, (src, text, pos, endpos)


EVASION = "ab kil su de i.*-_~+|/•·0134579@$!' \n\u200béà\u0915\u094dKL"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=EVASION, max_size=30))
def test_normalisation_gates_never_skip_a_pass_that_applies(text: str) -> None:
    can = norm._PASSES.possible(text)
    if norm._LEET_RE.search(text):
        assert norm._LEET_PASS in can
    if norm._SEP_GATE_RE.search(text):
        assert norm._SEP_PASS in can
    if norm._INNER_SYM_RE.search(text):
        assert norm._INNER_PASS in can
    lt, dp = normalize(text)
    assert (lt, dp) == normalize_mapped(text)[::2]  # the mapped path runs every pass


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aabbkkiill mmyy..-" + ALPHABET, max_size=40))
def test_stretched_covers_the_collapsed_text(text: str) -> None:
    """A stretched prefilter asked about a text also answers for the text with its
    stretched letters collapsed, which is what the detector's trigger regexes see."""
    pf = Prefilter([[s] for s in TRICKY], stretched=True)
    possible = pf.possible(text)
    collapsed = norm.unstretch(text)
    for i, src in enumerate(TRICKY):
        if re.search(src, collapsed) or re.search(src, text):
            assert i in possible, (src, text)


def test_stretched_lexicon_patterns_on_messages() -> None:
    det = default_detector()
    sources = [p for p, _t, _lg in det._items[0]]
    pf = Prefilter([[s] for s in sources], stretched=True)
    compiled = [re.compile(s) for s in sources]
    rows = [json.loads(line) for line in (HERE / "labelled.jsonl").read_text().splitlines()]
    for text in [str(r["text"]) for r in rows] + make_corpus(300, 4):
        stretched = norm.undo_evasion(norm.light(text))
        dp = norm.unstretch(stretched)
        possible = pf.possible(stretched)
        missed = [s for i, (s, rx) in enumerate(zip(sources, compiled, strict=True))
                  if i not in possible and rx.search(dp)]
        assert missed == [], text


def test_rules_out_what_cannot_match() -> None:
    pf = Prefilter([[r"\bkil+\s*myself\b"], [r"\d{7}"]])
    assert pf.possible("went for a walk with my dog") == frozenset()
    assert pf.possible("i want to kill myself") == {0}
    assert pf.possible("call 5551234 or kilmyself") == {0, 1}


def test_unsure_means_possible() -> None:
    """Inline flags are not loosened; lone surrogates cannot be given to RE2."""
    pf = Prefilter([["(?i)abc"], ["xyz"]])
    assert 0 in pf.possible("nothing here")
    assert 1 not in pf.possible("nothing here")
    assert pf.possible("bad \ud800 text") == {0, 1}


def test_without_re2_every_regex_is_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "re2", None)
    pf = Prefilter([["abc"], ["xyz"]])
    assert pf.possible("nothing here") == {0, 1}


def test_verdicts_do_not_depend_on_the_prefilter(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = default_detector()
    monkeypatch.setattr(prefilter, "re2", None)
    plain = Detector()
    assert plain._triggers_all.deep_pf.possible("anything") == {0}
    rows = [json.loads(line) for line in (HERE / "labelled.jsonl").read_text().splitlines()]
    texts = [str(r["text"]) for r in rows] + make_corpus(2000, 11)
    for room in ("general", "youth"):
        for t in texts:
            assert fast.classify(t, room=room) == plain.classify(t, room=room), t
