"""A small linear risk model behind the lexicon: a second reader for what rules miss.

The lexicon (detector.py) explains itself and handles negation, idioms and direction by
rule, but people say the same thing in more ways than any list holds. This model reads
the same normalised text as bag-of-words features (words, word pairs, word stems) and
gives probabilities from logistic-regression heads trained offline by
`python -m moderation.train` on the labelled JSONL sets under tests/moderation/.
Its weights ship as data (moderation/data/risk_model.json, with the hash of every
training file); inference is pure Python dictionary lookups, no numpy, no I/O.

Heads: `risk` (any risk at all), one per risk category, and on risky text `high`
(high or imminent rather than medium) and `imminent`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any, Protocol

from moderation.verdict import CATEGORIES, Severity, is_any_risk

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "risk_model.json"
FORMAT = 1

# What the lexicon saw in a message (Detector.lexicon_verdict): the model may add a
# finding after NOTHING (with a higher bar) or SEEN, never after SET_ASIDE.
NOTHING, SEEN, SET_ASIDE = 0, 1, 2

#: Heads in the order their weights are stored.
HEADS: tuple[str, ...] = (
    "risk",
    "self_harm_risk",
    "overdose_risk",
    "harm_to_others",
    "abuse_disclosure",
    "encourages_self_harm",
    "high",
    "imminent",
)
RISK_HEADS: tuple[str, ...] = HEADS[1:6]

# Punctuation left in the deep view after normalisation; stripped from the ends of words.
_PUNCT = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    "\u00a1\u00ab\u00bb\u00bf\u2013\u2014\u2026\u201c\u201d\u201e\u0964"
)
_STEM_LEN = 5  # words of five letters or more also count by their first five ("~suici")
_MEMO_CAP = 30_000  # tokens remembered per head before its memo starts over


def features(dp: str) -> list[str]:
    """Words, stems ("~suici") and adjacent pairs of a deep-normalised message.

    Words are the whitespace-split tokens with punctuation stripped from their ends;
    pairs are of the raw tokens, so "tired, pills" (across a comma) is not the pair
    "tired pills". Stems let "suicidio", "suicidal" and "suicidaire" share weight;
    pairs carry the little context a linear model can use ("not suicidal", "took all").
    Repeats count: the model is trained on counts.
    """
    raw = dp.split()
    out: list[str] = []
    for tok in raw:
        w = tok.strip(_PUNCT)
        if w:
            out.append(w)
            if len(w) >= _STEM_LEN:
                out.append("~" + w[:_STEM_LEN])
    out.extend(map(" ".join, pairwise(raw)))
    return out


_RAW_TOKEN = re.compile(r"\S+")


def word_spans(dp: str, wanted: set[str]) -> list[tuple[int, int]]:
    """Offsets in `dp` of the words (punctuation stripped) whose word, stem ("~...") or
    pair with the next word is in `wanted`: where a model flag's evidence lies."""
    toks = list(_RAW_TOKEN.finditer(dp))
    out: list[tuple[int, int]] = []
    for i, m in enumerate(toks):
        tok = m.group()
        w = tok.strip(_PUNCT)
        if not w:
            continue
        start = m.start() + tok.index(w)
        span = (start, start + len(w))
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if w in wanted or (len(w) >= _STEM_LEN and "~" + w[:_STEM_LEN] in wanted):
            out.append(span)
        elif nxt is not None and f"{tok} {nxt.group()}" in wanted:
            out.append(span)
            w2 = nxt.group().strip(_PUNCT)
            if w2:
                s2 = nxt.start() + nxt.group().index(w2)
                out.append((s2, s2 + len(w2)))
    return sorted(set(out))


class _WordWeights(dict[str, float]):
    """Token -> weight of its word plus its stem for one head, filled on first sight, so
    the per-message sum is one C-level map over the tokens (the hot path)."""

    def __init__(self, words: dict[str, float], stems: dict[str, float]) -> None:
        super().__init__()
        self._words = words
        self._stems = stems

    def __missing__(self, tok: str) -> float:
        w = tok.strip(_PUNCT)
        v = self._words.get(w, 0.0)
        if len(w) >= _STEM_LEN:
            v += self._stems.get(w[:_STEM_LEN], 0.0)
        if len(self) >= _MEMO_CAP:
            self.clear()  # bounded: a flood of unique tokens cannot grow memory
        self[tok] = v
        return v


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class Probabilities(Protocol):
    """What combine() reads: one probability per head, by name."""

    def head(self, name: str) -> float:
        """Probability of one head (see HEADS)."""
        ...


@dataclass(frozen=True, slots=True)
class Assessment:
    """Every head's probability for one message (training, tuning, explanations)."""

    probs: tuple[float, ...]

    def head(self, name: str) -> float:
        """Probability of one head (see HEADS)."""
        return self.probs[HEADS.index(name)]


class Reading:
    """Heads computed on first use for one message: a lexicon finding needs three of
    the eight, a message the lexicon passed needs all only when the model flags it, and
    one whose trigger the lexicon set aside needs none (not even the split)."""

    __slots__ = ("_cache", "_dp", "_model", "_toks")

    def __init__(self, model: RiskModel, dp: str) -> None:
        self._model = model
        self._dp = dp
        self._toks: list[str] | None = None
        self._cache: dict[str, float] = {}

    def head(self, name: str) -> float:
        """Probability of one head (see HEADS)."""
        p = self._cache.get(name)
        if p is None:
            if self._toks is None:
                self._toks = self._dp.split()
            p = self._cache[name] = _sigmoid(self._model.logit(self._toks, HEADS.index(name)))
        return p


class RiskModel:
    """Loaded weights; read-only after construction, safe to share."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        """Validate and index a model document (the JSON written by moderation.train)."""
        if data.get("format") != FORMAT:
            raise ValueError(f"risk model: unsupported format {data.get('format')!r}")
        heads = tuple(data.get("heads", ()))
        if heads != HEADS:
            raise ValueError(f"risk model: heads {heads!r}, expected {HEADS!r}")
        bias = [float(b) for b in data["bias"]]
        if len(bias) != len(HEADS):
            raise ValueError("risk model: one bias per head expected")
        self.bias: tuple[float, ...] = tuple(bias)
        self.thresholds: dict[str, float] = {
            str(k): float(v) for k, v in dict(data.get("thresholds", {})).items()
        }
        self.trained_from: dict[str, str] = dict(data.get("trained_from", {}))
        self.weights: dict[str, tuple[float, ...]] = {}
        for feat, ws in dict(data["weights"]).items():
            if len(ws) != len(HEADS):
                raise ValueError(f"risk model: feature {feat!r} has {len(ws)} weights")
            self.weights[str(feat)] = tuple(float(w) for w in ws)
        # Per head, word and stem weights are folded per token and pairs are keyed by
        # token tuples, so a head's sum needs no strings built (risk runs on every
        # message).
        self._heads: list[tuple[_WordWeights, dict[tuple[str, ...], float]]] = []
        for i in range(len(HEADS)):
            col = {f: w[i] for f, w in self.weights.items() if w[i]}
            self._heads.append((
                _WordWeights(
                    {f: w for f, w in col.items() if " " not in f and f[0] != "~"},
                    {f[1:]: w for f, w in col.items() if f[0] == "~" and " " not in f},
                ),
                {tuple(f.split(" ")): w for f, w in col.items() if " " in f},
            ))

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> RiskModel:
        """Read a model file (construction time only)."""
        with path.open(encoding="utf-8") as fh:
            return cls(json.load(fh))

    def threshold(self, name: str, default: float = 0.5) -> float:
        """Decision threshold chosen at training time for one head."""
        return self.thresholds.get(name, default)

    def logit(self, toks: Sequence[str], head: int) -> float:
        """One head's log-odds for a message's tokens (str.split() of its deep view),
        equal to the sum over features()."""
        words, pairs = self._heads[head]
        z = sum(map(words.__getitem__, toks)) + sum(map(pairs.get, pairwise(toks), repeat(0.0)))
        return self.bias[head] + z

    def reading(self, dp: str) -> Reading:
        """Every head for a deep-normalised message, each computed when first asked for."""
        return Reading(self, dp)

    def assess(self, dp: str) -> Assessment:
        """Every head's probability from the feature list of a deep-normalised message
        (training, tuning and explanations; the server uses reading())."""
        z = list(self.bias)
        get = self.weights.get
        for f in features(dp):
            ws = get(f)
            if ws is not None:
                for i, w in enumerate(ws):
                    z[i] += w
        return Assessment(tuple(_sigmoid(v) for v in z))

    def contributions(self, feats: Sequence[str], head: str) -> list[tuple[str, float]]:
        """Features that pushed `head` up, strongest first: the evidence for a flag."""
        i = HEADS.index(head)
        seen: dict[str, float] = {}
        for f in feats:
            ws = self.weights.get(f)
            if ws is not None and ws[i] > 0:
                seen[f] = seen.get(f, 0.0) + ws[i]
        return sorted(seen.items(), key=lambda kv: -kv[1])


# Lexicon findings the model may overrule when it is all but sure there is no risk
# (`veto`): "this exam is killing me, one more integral and I jump out the window 💀".
# Never an imminent finding, abuse or grooming (the model knows few of those), or contact.
_VETOABLE = frozenset({"self_harm_risk", "overdose_risk", "harm_to_others", "encourages_self_harm"})


def decide(
    categories: tuple[str, ...],
    severity: Severity,
    sight: int,
    a: Probabilities,
    model: RiskModel,
) -> tuple[tuple[str, ...], Severity, tuple[str, ...]]:
    """The second reader's whole say on one message, given the lexicon's finding and
    what it saw (NOTHING, SEEN, SET_ASIDE); returns what combine() returns.

    A trigger the lexicon set aside by context stands: a bag of words cannot see "not"
    bind to "suicidal". An imminent finding leaves nothing to add or raise. A finding at
    high or below is dropped when the model's risk probability is under `veto` (chosen by
    cross-validation where it cost no imminent message); returns no categories then. Where the
    lexicon saw no risk concept at all, the model must clear `risk_unseen` rather than
    `risk`: its faint words ("tonight", "tired") add up in everyday chat.
    """
    if sight == SET_ASIDE:
        return categories, severity, ()
    if is_any_risk(categories, severity):
        if severity == Severity.IMMINENT:
            return categories, severity, ()
        if set(categories) <= _VETOABLE and a.head("risk") < model.threshold("veto", 0.0):
            return (), Severity.NONE, ()
    elif a.head("risk") < model.threshold("risk" if sight == SEEN else "risk_unseen"):
        return categories, severity, ()
    return combine(categories, severity, a, model)


def combine(
    categories: tuple[str, ...], severity: Severity, a: Probabilities, model: RiskModel
) -> tuple[tuple[str, ...], Severity, tuple[str, ...]]:
    """Merge the lexicon's finding with the model's probabilities.

    Returns (categories, severity, categories the model added). The lexicon keeps the
    last word on what it found; the model (1) flags risk the lexicon did not see, when
    its risk probability clears the trained threshold, and (2) raises the severity of a
    lexicon finding when it is confident the message is high or imminent: an imminent
    message rated medium is the one error that must never happen.
    """
    if a.head("risk") < model.threshold("risk"):
        return categories, severity, ()
    imm = a.head("imminent")
    if is_any_risk(categories, severity):
        if imm >= model.threshold("raise_imminent", 0.8):
            severity = max(severity, Severity.IMMINENT)
        elif a.head("high") >= model.threshold("raise_high", 0.8):
            severity = max(severity, Severity.HIGH)
        return categories, severity, ()
    probs = [(a.head(c), c) for c in RISK_HEADS]
    added = tuple(c for p, c in probs if p >= model.threshold("category")) or (max(probs)[1],)
    if imm >= model.threshold("imminent"):
        sev = Severity.IMMINENT
    elif a.head("high") >= model.threshold("high") or imm >= model.threshold("imminent") / 2:
        sev = Severity.HIGH
    else:
        sev = Severity.MEDIUM
    merged = tuple(c for c in CATEGORIES if c in categories or c in added)
    return merged, max(severity, sev), added
