"""RE2 may only ever rule out a normalisation pass that cannot apply (prefilter.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.detector_bench import make_corpus
from moderation import normalize as norm
from moderation import prefilter
from moderation.detector import default_detector
from moderation.evaluate import load_rows
from moderation.normalize import normalize, normalize_mapped
from moderation.prefilter import Prefilter, loosen

HERE = Path(__file__).parent
def _labelled_rows() -> list[dict[str, Any]]:
    """Every row of every labelled set in this folder."""
    return [r for f in sorted(HERE.glob("*.jsonl")) for r in load_rows(f)]


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
    assert (lt, dp) == normalize_mapped(text)[::2]


def test_light_ascii_shortcut_is_the_table() -> None:
    for c in range(128):
        assert norm.light(chr(c)) == chr(c).translate(norm.TABLE)


WIDE = "\u00c0\u0130\u03d2\u1e9e\u2019\U0001f48a\u0928\u00df "  # folds that are not lower()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=EVASION + WIDE, max_size=40))
def test_light_is_the_table_on_mixed_text(text: str) -> None:
    assert norm.light(text) == text.translate(norm.TABLE)


def test_light_is_the_table_on_every_labelled_message() -> None:
    texts = [str(r["text"]) for r in _labelled_rows()]
    assert any(not t.isascii() for t in texts)
    for t in texts:
        assert norm.light(t) == t.translate(norm.TABLE), t


GATE_TEXT = "ab st street calle 0123456789 @:=.-()[]# at dot com wa.me snap ig on \u00e9\u0915\n"


GATE_WORDS = ["12", "5551234", "(555) 123-4567", "ab", "st", "street", "calle", "rua", "n\u00ba",
              "@lily_22", "snap:", "ig", "on", "insta", "at", "dot", "com", "(at)", "wa.me/x",
              "\u00e9", "\u0915", ".", ",", ":", "=", "#1234"]
CONTACT_TEXTS = st.one_of(
    st.text(alphabet=GATE_TEXT, max_size=40),
    st.lists(st.sampled_from(GATE_WORDS), max_size=10).map(" ".join),
    st.lists(st.sampled_from(GATE_WORDS), max_size=10).map("".join),
)


@settings(max_examples=800, deadline=None)
@given(CONTACT_TEXTS)
def test_contact_gates_are_never_ruled_out_when_they_match(text: str) -> None:
    det = default_detector()
    can = det._gates_pf.possible(text)
    n = len(det._gated)
    for k, (gate, rxs) in enumerate(det._gated):
        if gate.search(text):
            assert k in can, (gate.pattern, text)
        if any(rx.search(text) for rx in rxs):
            assert n + k in can, (k, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab st_\u00e9\u0915\u093e .-", max_size=20))
def test_word_boundary_is_kept_only_where_re2_is_looser(text: str) -> None:
    sources = [r"(?:st|ab)\b", r"\bst", r"a\b", r"(?:a|)\b", r"[ab_]\b", "\u00e9\\b"]
    pf = Prefilter.of_regexes(sources)
    can = pf.possible(text)
    for i, src in enumerate(sources):
        if re.search(src, text):
            assert i in can, (src, text)


def test_loosening() -> None:
    assert loosen(r"(?:street|st)\b") == r"st(?:reet|)\b"  # `re` factors the prefix
    assert loosen(r"(?:a|)\b") == "(?:a|)"  # may end before the group: not kept
    assert loosen(r"\bst") == "st"  # a boundary before a word is not kept
    assert loosen(r"(?<!x)ab(?=c)") == "ab"
    assert loosen("(?i)abc") is None


def test_rules_out_what_cannot_occur() -> None:
    pf = Prefilter(["kil+", r"\d{7}"])
    assert pf.possible("went for a walk with my dog") == frozenset()
    assert pf.possible("i want to kill myself") == {0}
    assert pf.possible("call 5551234 or kilmyself") == {0, 1}


def test_unsure_means_possible(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lone surrogates cannot be given to RE2; without the package nothing is skipped."""
    pf = Prefilter(["abc", "xyz"])
    assert pf.possible("bad \ud800 text") == {0, 1}
    monkeypatch.setattr(prefilter, "re2", None)
    assert Prefilter(["abc", "xyz"]).possible("nothing here") == {0, 1}


def test_verdicts_do_not_depend_on_re2(monkeypatch: pytest.MonkeyPatch) -> None:
    det = default_detector()
    rows = load_rows(HERE / "labelled.jsonl")
    texts = [str(r["text"]) for r in rows] + make_corpus(1500, 11)
    fast = [det.classify(t, room="youth") for t in texts]
    monkeypatch.setattr(prefilter, "re2", None)
    monkeypatch.setattr(norm, "_PASSES", Prefilter(["a", "b", "c"]))
    assert [det.classify(t, room="youth") for t in texts] == fast


def test_anchor_shortcut_changes_no_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """The early exit for risk concepts that no rule can compose (_rules_may_fire)
    concludes what the full rule pass does, on every labelled message and a mix."""
    det = default_detector()
    texts = [(str(r["text"]), str(r["room"])) for r in _labelled_rows()]
    texts += [(t, "general") for t in make_corpus(1500, 5)]
    lexicon = det.lexicon_verdict
    original = type(det)._rules_may_fire
    exits: list[bool] = []

    def counted(self: object, hits: list[object], dp: str, lt: str) -> bool:
        exits.append(not original(self, hits, dp, lt))  # type: ignore[arg-type]
        return not exits[-1]

    monkeypatch.setattr(type(det), "_rules_may_fire", counted)
    fast = [lexicon(t, room=r) for t, r in texts]
    assert sum(exits) > 100  # the shortcut is taken, not only compared
    monkeypatch.setattr(type(det), "_rules_may_fire", lambda self, hits, dp, lt: True)
    assert [lexicon(t, room=r) for t, r in texts] == fast
