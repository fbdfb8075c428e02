"""Cross-validated figures for the risk model, alone and combined with the lexicon.

Used by `python -m moderation.train --cv K` to choose the thresholds. The lexicon was
tuned on most of these rows, so the combined figures are optimistic; the model-alone
figures are the fairer read of what the model adds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from moderation.classifier import Assessment, RiskModel, combine, decide
from moderation.detector import Detector
from moderation.evaluate import Report
from moderation.normalize import normalize
from moderation.verdict import Severity, Verdict

_SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _folds(n: int, k: int, seed: int = 7) -> list[list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    return [idx[i::k] for i in range(k)]


def _score(
    rows: Sequence[dict[str, Any]],
    lex: Sequence[tuple[Verdict, int]],
    probs: Sequence[Assessment],
    model: RiskModel,
    use_lexicon: bool,
) -> tuple[float, float, float, int, int]:
    """(recall, precision, hard-negative FP rate, imminent below high, imminent total),
    deciding as Detector.classify does (a trigger the lexicon set aside stands)."""
    rep = Report()
    for row, (v, sight), a in zip(rows, lex, probs, strict=True):
        if use_lexicon:
            cats, sev, _ = decide(v.categories, v.severity, sight, a, model)
        else:
            cats, sev, _ = combine((), Severity.NONE, a, model)
        rep.add(row, cats, sev)
    return (rep.any_risk.recall, rep.any_risk.precision, rep.hard_negative_fp_rate,
            rep.imminent_below_high, rep.imminent_total)


def _table(
    rows: Sequence[dict[str, Any]],
    lex: Sequence[tuple[Verdict, int]],
    probs: Sequence[Assessment],
    base: dict[str, Any],
) -> list[str]:
    unseen = float(base["thresholds"]["risk_unseen"])
    lines = [f"risk_unseen {unseen} (or the risk threshold when higher)",
             f"{'risk thr':>9}{'':>3}{'recall':>8}{'prec':>7}{'HN-FP':>7}{'imm<high':>10}"]
    for thr in _SWEEP:
        # combine() asks for `risk` as well, so the bar after NOTHING is the higher one.
        model = RiskModel({**base, "thresholds": {**base["thresholds"], "risk": thr}})
        for use_lex, name in ((False, "model"), (True, "both")):
            rec, prec, hnfp, low, imm = _score(rows, lex, probs, model, use_lex)
            lines.append(f"{thr:>9.2f} {name:<5}{rec:>7.3f}{prec:>7.3f}{hnfp:>7.3f}"
                         f"{low:>6}/{imm}")
    never = RiskModel({**base, "thresholds": {"risk": 2.0}})
    rec, prec, hnfp, low, imm = _score(rows, lex, probs, never, True)
    lines.append(f"{'lexicon':>9} only {rec:>7.3f}{prec:>7.3f}{hnfp:>7.3f}{low:>6}/{imm}")
    return lines


def _lexicon(rows: Sequence[dict[str, Any]]) -> list[tuple[Verdict, int]]:
    det = Detector(model_path=None)
    return [det.lexicon_verdict(str(r["text"]), room=str(r["room"])) for r in rows]


def cross_validate(rows: Sequence[dict[str, Any]], k: int) -> str:
    """K-fold figures for a sweep of risk thresholds, as a printable table."""
    from moderation.train import fit

    dps = [normalize(str(r["text"]))[1] for r in rows]
    probs: list[Assessment | None] = [None] * len(rows)
    base: dict[str, Any] = {}
    for fold in _folds(len(rows), k):
        held = set(fold)
        base = fit([r for i, r in enumerate(rows) if i not in held])
        model = RiskModel(base)
        for i in fold:
            probs[i] = model.assess(dps[i])
    done = [p for p in probs if p is not None]
    return "\n".join([f"{len(rows)} rows, {k}-fold", *_table(rows, _lexicon(rows), done, base)])


def score_file(train_rows: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]) -> str:
    """Fit on `train_rows`, then the threshold sweep on `rows` (a dev set)."""
    from moderation.train import fit

    base = fit(train_rows)
    model = RiskModel(base)
    probs = [model.assess(normalize(str(r["text"]))[1]) for r in rows]
    return "\n".join([f"{len(rows)} rows", *_table(rows, _lexicon(rows), probs, base)])
