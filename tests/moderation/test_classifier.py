"""The risk model behind the lexicon: features, the fast path, the shipped weights."""

from __future__ import annotations

import json
from typing import Any

import pytest

from moderation import classifier
from moderation.classifier import (
    DEFAULT_MODEL,
    HEADS,
    NOTHING,
    SEEN,
    SET_ASIDE,
    Assessment,
    RiskModel,
    combine,
    decide,
    features,
    word_spans,
)
from moderation.normalize import normalize
from moderation.train import DATA_DIR, TRAINING_FILES, file_hashes
from moderation.verdict import Severity


def _doc(weights: dict[str, list[float]], **thresholds: float) -> dict[str, Any]:
    return {
        "format": classifier.FORMAT,
        "heads": list(HEADS),
        "bias": [-1.0] * len(HEADS),
        "thresholds": {"risk": 0.5, **thresholds},
        "weights": weights,
    }


def _w(risk: float, **heads: float) -> list[float]:
    return [risk if h == "risk" else heads.get(h, 0.0) for h in HEADS]


def test_features_words_stems_and_raw_pairs() -> None:
    feats = features("im done, taking pils tonight")
    assert feats[:2] == ["im", "done"]
    assert "~takin" in feats and "~tonig" in feats and "~done" not in feats
    assert "taking pils" in feats
    assert "done, taking" in feats  # pairs keep punctuation: not the pair "done taking"
    assert "done taking" not in feats


def test_fast_heads_equal_the_full_sum_over_features() -> None:
    model = RiskModel.load()
    texts = [
        "I can't do this anymore, I've been thinking about it every night",
        "this exam is killing me lol",
        "tomé todas las pastillas, perdón a todos",
        "मैं अब और नहीं जी सकता, आज रात सब ख़त्म",
        "pills pills pills!!! tonight tonight",
        "piiiiilllls... gooodbyeee",
        "",
        "   ...   ",
    ]
    for text in texts:
        dp = normalize(text)[1]
        full = model.assess(dp)
        reading = model.reading(dp)
        for name in HEADS:
            assert reading.head(name) == pytest.approx(full.head(name), abs=1e-12)


def test_word_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "_MEMO_CAP", 10)
    model = RiskModel(_doc({"pils": _w(3.0)}))
    for i in range(50):
        model.reading(f"word{i} pils").head("risk")
    assert len(model._heads[0][0]) <= 10
    expected = 1 / (1 + pow(2.718281828459045, -2.0))
    assert model.reading("pils").head("risk") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 99}, "unsupported format"),
        ({"heads": ["risk"]}, "heads"),
        ({"bias": [0.0]}, "one bias per head"),
        ({"weights": {"x": [1.0]}}, "feature 'x' has 1 weights"),
    ],
)
def test_bad_model_documents_are_refused_with_the_reason(
    change: dict[str, Any], message: str
) -> None:
    doc = _doc({"pils": _w(1.0)})
    doc.update(change)
    with pytest.raises(ValueError, match=message):
        RiskModel(doc)


def test_shipped_model_was_trained_on_the_current_labelled_files() -> None:
    """Editing a labelled set without `python -m moderation.train` fails here."""
    with DEFAULT_MODEL.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc["trained_from"] == file_hashes(TRAINING_FILES, DATA_DIR)


def _assess(**probs: float) -> Assessment:
    return Assessment(tuple(probs.get(h, 0.0) for h in HEADS))


def test_combine_keeps_a_lexicon_finding_and_raises_its_severity() -> None:
    model = RiskModel(_doc({}))
    cats = ("self_harm_risk",)
    assert combine(cats, Severity.MEDIUM, _assess(risk=0.2, imminent=0.99), model) == (
        cats, Severity.MEDIUM, ()
    )
    assert combine(cats, Severity.MEDIUM, _assess(risk=0.9, imminent=0.99), model) == (
        cats, Severity.IMMINENT, ()
    )
    assert combine(cats, Severity.MEDIUM, _assess(risk=0.9, high=0.95), model) == (
        cats, Severity.HIGH, ()
    )


def test_combine_adds_what_the_lexicon_missed() -> None:
    model = RiskModel(_doc({}))
    got = combine((), Severity.NONE, _assess(risk=0.9, overdose_risk=0.7, imminent=0.6), model)
    assert got == (("overdose_risk",), Severity.IMMINENT, ("overdose_risk",))
    # No category head is sure: the likeliest one is named, severity at least medium.
    got = combine((), Severity.NONE, _assess(risk=0.9, harm_to_others=0.3), model)
    assert got == (("harm_to_others",), Severity.MEDIUM, ("harm_to_others",))
    # Contact sharing found by the lexicon stays beside the model's category.
    got = combine(("contact_sharing",), Severity.LOW,
                  _assess(risk=0.9, self_harm_risk=0.8, high=0.9), model)
    assert got == (("self_harm_risk", "contact_sharing"), Severity.HIGH, ("self_harm_risk",))
    assert combine((), Severity.NONE, _assess(risk=0.4), model) == ((), Severity.NONE, ())


def test_word_spans_point_at_words_stems_and_pairs() -> None:
    dp = "so, i took all the pils. bye"
    spans = word_spans(dp, {"pils", "took all", "~byeee"})
    assert [dp[a:b] for a, b in spans] == ["took", "all", "pils"]
    dp = "suicidally tired"
    assert [dp[a:b] for a, b in word_spans(dp, {"~suici"})] == ["suicidally"]


def test_retraining_reproduces_the_shipped_model() -> None:
    """The weights are what `python -m moderation.train` makes of the labelled files."""
    from moderation.train import fit, load_training

    shipped = RiskModel.load()
    fresh = RiskModel(fit(load_training(TRAINING_FILES)))
    for row in load_training(("fresh_eval5.jsonl", "train_c.jsonl")):
        dp = normalize(row["text"])[1]
        assert fresh.assess(dp).probs == pytest.approx(shipped.assess(dp).probs, abs=2e-3)


def test_decide_respects_what_the_lexicon_saw() -> None:
    model = RiskModel(_doc({}, risk_unseen=0.7))
    sure = _assess(risk=0.9, self_harm_risk=0.8, high=0.9, imminent=0.95)
    middling = _assess(risk=0.6, self_harm_risk=0.8, high=0.9)
    # A trigger set aside by context (a negation, someone else's story) stands.
    assert decide((), Severity.NONE, SET_ASIDE, sure, model) == ((), Severity.NONE, ())
    # After a risk concept the `risk` bar applies, after nothing the higher one.
    assert decide((), Severity.NONE, SEEN, middling, model)[2] == ("self_harm_risk",)
    assert decide((), Severity.NONE, NOTHING, middling, model) == ((), Severity.NONE, ())
    assert decide((), Severity.NONE, NOTHING, sure, model)[1] == Severity.IMMINENT
    # An imminent finding has nothing left to raise; a high one is raised.
    cats = ("self_harm_risk",)
    assert decide(cats, Severity.IMMINENT, SEEN, sure, model) == (cats, Severity.IMMINENT, ())
    assert decide(cats, Severity.HIGH, SEEN, sure, model) == (cats, Severity.IMMINENT, ())


def test_decide_vetoes_only_what_it_may() -> None:
    """Under `veto` the model drops a lexicon finding at high or below; never an imminent
    one, abuse or grooming, or contact sharing, and never without a veto threshold."""
    model = RiskModel(_doc({}, veto=0.03))
    sure_not = _assess(risk=0.01)
    sh = ("self_harm_risk",)
    assert decide(sh, Severity.HIGH, SEEN, sure_not, model) == ((), Severity.NONE, ())
    assert decide(sh, Severity.HIGH, SEEN, _assess(risk=0.05), model)[0] == sh
    assert decide(sh, Severity.IMMINENT, SEEN, sure_not, model)[0] == sh
    both = ("self_harm_risk", "contact_sharing")
    for cats in (("abuse_disclosure",), ("contact_sharing",), both):
        assert decide(cats, Severity.MEDIUM, SEEN, sure_not, model)[0] == cats
    assert decide(sh, Severity.HIGH, SEEN, sure_not, RiskModel(_doc({})))[0] == sh


def test_a_vetoed_finding_reaches_nobody() -> None:
    """The detector returns no risk at all for a vetoed finding (no flag, no card)."""
    from moderation.detector import default_detector

    text = "im going to murder my brother if he eats my leftovers again 😤"
    lex, _ = default_detector().lexicon_verdict(text)
    assert lex.is_risk, lex  # the lexicon alone flags it ...
    assert not default_detector().classify(text).is_risk  # ... and the model vetoes it


def test_a_low_signal_without_categories_is_not_taken_for_a_veto() -> None:
    """A finding the lexicon capped at low ("kms lol") keeps its low severity: only a
    finding with categories can be vetoed away."""
    from moderation.detector import default_detector

    lex, _ = default_detector().lexicon_verdict("kms lol")
    assert lex.severity == Severity.LOW and not lex.categories, lex
    assert default_detector().classify("kms lol") == lex
