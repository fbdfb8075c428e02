"""Floors on the fresh sets written by hand in six languages.

fresh_eval.jsonl (259 messages) was written BEFORE tuning and scored once for an honest
baseline (any-risk recall 0.517, precision 0.928, hard-negative FP 0.084, 51/92 imminent
rated below high); the lexicon families were then tuned against it, so its floors below
are tuning floors, not a generalisation estimate.

fresh_eval2.jsonl (86 messages) was written AFTER the phrase-family tuning. Baseline
then: recall 0.278, precision 0.938, 19/28 imminent below high. Its failures were then
used to design the CONCEPTS of the compositional layer (anchors + cues + [[rule]] in the
lexicons; no sentence-specific patterns), so its floors below are no longer a held-out
estimate.

fresh_eval3.jsonl (152 messages, six languages, 62 hard negatives) was written before
the compositional layer and scored once: recall 0.744, precision 0.905, hard-negative FP
0.113 (7/62), 13/60 imminent below high. It was then used for concept design as well.

fresh_eval4.jsonl (58 messages, 23 hard negatives) was written AFTER the compositional
layer and scored once, untouched: recall 0.714, precision 0.833, hard-negative FP 0.217
(5/23), 7/21 imminent below high (the detector before the layer: recall 0.514, precision
0.783, FP 0.217, 11/21). Its failures were then used for concept design too (now
1.0 / 1.0 / 0 / 0), so the floors below are tuning floors.

fresh_eval5.jsonl (63 messages, 25 hard negatives, 23 imminent) was written after all of
that and scored once, untouched: recall 0.632, precision 0.923, hard-negative FP 0.080
(2/25), 10/23 imminent below high (before the compositional layer: 0.421 / 0.889 / 0.080
/ 12/23). THIS is the honest generalisation estimate, far below the quality bar. Its
failures were then used for concept design as well, so its floors are tuning floors and
the next fresh set must again be written before looking at the detector.

From here the detector is the lexicon plus a risk model (moderation/classifier.py) trained
on the labelled sets, including 1,830 training rows and 1,200 ordinary chat messages
written for it by authors who saw neither the detector nor the evaluation sets.

fresh_eval6.jsonl (160 messages, 61 hard negatives) was written by an independent author
and scored once with the lexicon alone: recall 0.602, precision 0.966, hard-negative FP
0.033, 13/33 imminent below high. It then served as the model's dev set (thresholds,
which lexicon decisions the model may overrule), so its floors are tuning floors.

benign_eval.jsonl (360 ordinary chat messages, six languages, none of them risky) measures
false alarms on everyday talk; it was used to choose the `risk_unseen` threshold.

fresh_eval7.jsonl (160 messages, 58 hard negatives, 34 imminent) was written by another
independent author and scored ONCE with the final lexicon + model, untouched: recall 0.906,
precision 0.978, hard-negative FP 0.034 (2/58), 5/34 imminent below high (the lexicon
alone: 0.510 / 0.961 / 0.034 / 19/34). That is the honest estimate now; it is still below
the bar (recall 0.95, no imminent below high). Its misses have been read since, so the
next estimate needs a new set again. It has since joined the model's training data, as has
fresh_eval6: both keep tuning floors.

fresh_eval8.jsonl (160 messages, 62 hard negatives, 35 imminent) was written by another
independent author before the third round of training data (train_e-j, benign_c/d: 2,700
risk and hard-negative rows, 1,200 ordinary messages, six more authors) and scored once
with the detector as it stood (recall 0.876, precision 0.895, hard-negative FP 0.161
(10/62), 5/35 imminent below high), then once more after that round, untouched: recall
0.938, precision 0.910, hard-negative FP 0.145 (9/62), 2/35 imminent below high (the
lexicon alone: 0.526 / 0.895 / 6/62 / 19/35). Nobody has read its misses: it stays an
honest estimate, scored only in aggregate.

fresh_eval9.jsonl (160 messages, 57 hard negatives, 36 imminent) was written by another
independent author after that and scored once, untouched: recall 0.897, precision 0.935,
hard-negative FP 0.105 (6/57), 3/36 imminent below high (the lexicon alone: 0.546 / 0.898
/ 6/57 / 17/36). Then the contact lexicons were widened from the training sets' misses and
a fourth round of training data (train_k-m, 1,350 rows) was added, chosen by
cross-validation on the training sets (recall on the third round's rows 0.755 -> 0.777,
imminent below high 152 -> 139 of 559, ordinary chat flagged 91 -> 100 of 2,400). Both
sets, scored once more: fresh_eval8 0.918 / 0.890 / 11/62 / 4/35 (worse than before the
round), fresh_eval9 0.918 / 0.918 / 8/57 / 2/36 (better recall, more false alarms);
after the lexicons learned old-dose relapse and settling one's affairs from the training
sets, fresh_eval9 0.928 / 0.918 / 8/57 / 1/36, fresh_eval8 unchanged. Pooled, 179 of 194
risk messages found (0.923), 19 of 119 hard negatives flagged, 5 of 71 imminent messages
below high: below the bar (0.95, 5 %, none) on all three. Nobody has read the misses of
either set.

fresh_eval10.jsonl and fresh_eval11.jsonl (160 messages each, 56 hard negatives, 36
imminent) were written by two more independent authors at the start of the fifth round
and scored once with the detector as it stood: fresh_eval10 recall 0.889, precision 0.871,
hard-negative FP 12/56, 5/36 imminent below high; fresh_eval11 0.911 / 0.939 / 6/56 /
4/36. Then the lexicons learned, from the training sets only, settling one's affairs in
five more languages, the body's signs of an overdose after a substance, using again after
a break, schools and meet-ups as contact, and many false alarms (talk about the words,
reporting to the mods, petty causes); four new training sets (train_n-q, 1,800 rows, four
more authors, read for lexicon work before they trained anything) joined the model.
Scored once more: fresh_eval10 0.909 / 0.909 / 8/56 / 3/36, fresh_eval11 0.921 / 0.949 /
5/56 / 3/36; pooled 183 of 200 risk messages (0.915), 13 of 112 hard negatives (12 %),
6 of 72 imminent below high. Nobody has read the misses of either set.

fresh_eval12.jsonl (160 messages, 56 hard negatives, 36 imminent), by one more author, was
scored once when it arrived, after the lexicon work above: recall 0.921, precision 0.921,
hard-negative FP 8/56, 2/36 imminent below high (the detector at the start of the round:
0.901 / 0.919 / 8/56 / 2/36). Then two more training sets (train_r: hard negatives with
their risky twins; train_s: imminent, danger at home, threats, encouragement; 900 rows)
were read for lexicon work and joined the model. All three new sets, scored once more:
fresh_eval10 0.909 / 0.928 / 6/56 / 3/36, fresh_eval11 0.941 / 0.950 / 5/56 / 2/36,
fresh_eval12 0.941 / 0.922 / 8/56 / 2/36; pooled 280 of 301 risk messages (0.930), 19 of
168 hard negatives flagged (11 %), 7 of 108 imminent below high. Misses unread.

fresh_eval13.jsonl (160 messages, 56 hard negatives, 36 imminent), by one more author, was
scored once when it arrived at the end of the round: recall 0.913, precision 0.959,
hard-negative FP 4/56, 2/36 imminent below high (the detector at the start of the round:
0.893 / 0.948 / 5/56 / 2/36). Then train_t (450 rows in five languages, one more author)
joined the model, chosen like every training set before any held-out score: fresh_eval10
0.899 / 0.927 / 6/56 / 3/36, fresh_eval11 0.941 / 0.950 / 5/56 / 3/36, fresh_eval12
0.911 / 0.920 / 8/56 / 2/36, fresh_eval13 0.913 / 0.959 / 4/56 / 1/36 (4 fewer risk
messages found over these four, 1 more over fresh_eval8/9: noise at this size). The four
newest pooled: 370 of 404 risk messages (0.916), 23 of 224 hard negatives (10 %), 9 of
144 imminent below high. Misses unread, but for 15 rows of fresh_eval10-13 that a diff
printed at the end of that session (nothing was changed after it).

fresh_eval14.jsonl and fresh_eval15.jsonl (160 messages each, 56 hard negatives, 36
imminent), by two more independent authors working from a rewritten writing spec (the old
one was lost with a machine), were scored once when they arrived at the start of the sixth
round, with the detector as the fifth round shipped it: fresh_eval14 recall 0.900,
precision 0.957, hard-negative FP 3/56, 0/36 imminent below high; fresh_eval15 0.880 /
0.946 / 5/56 / 2/36. Pooled 178 of 200 risk messages (0.890), 8 of 112 hard negatives
(7 %), 2 of 72 imminent below high. In aggregate (no row read), 9 of the 22 misses carry
contact_sharing (9 of its 21 rows at medium or above), and 14 of them are medium.

That breakdown sent the sixth round to the training sets' contact rows: there a phone
number or street address shared in an adult room was labelled medium (a person reachable
offline) while the detector rated every contact detail low outside youth rooms. Phone
numbers and addresses are now medium in every room (handles and emails among adults stay
low), and crisis lines named in words in five languages mark a number as the line's.
Decided on the training rows alone (+31 risk rows found there, hard negatives and
ordinary chat flagged unchanged, 227 of 3,819); the held-out sets then, in aggregate:
fresh_eval14 0.940 / 0.959 / 3/56 / 0/36, fresh_eval15 0.910 / 0.948 / 5/56 / 2/36,
fresh_eval13 0.932 / 0.960 / 4/56 / 0/36, and one more hard negative flagged in each of
fresh_eval10 (precision 0.918) and fresh_eval11. Because the breakdown of fresh_eval14/15
chose where to look, their second scores are no longer blind. A failing floor once
printed one row of fresh_eval10 (a Signal invitation labelled low that is now medium):
floors now assert on plain numbers so no row text can reach the output.

Then four more training sets by four more authors joined the model (train_u: English hard
negatives and their risky twins; train_v: the same in five languages; train_w: imminent
danger said quietly, with look-alikes; train_x: contact sharing in every form, with its
hard negatives; 1,800 rows), each scored once on arrival (pooled recall 0.752, precision
0.852, 118 of 840 hard negatives flagged, 36 of 317 imminent below high: the hardest sets
yet), and the contact lexicons learned from train_x's misses (asking for a handle, a
handle given by reference, schools, meet-ups and pick-ups, private photos, numbers in
words). All held-out sets once more, in aggregate: fresh_eval8 0.959 / 0.894 / 11/62 /
1/35, fresh_eval9 0.938 / 0.929 / 7/57 / 1/36, fresh_eval10 0.909 / 0.928 / 6/56 / 3/36,
fresh_eval11 0.931 / 0.940 / 6/56 / 3/36, fresh_eval12 0.911 / 0.920 / 8/56 / 2/36,
fresh_eval13 0.913 / 0.949 / 5/56 / 2/36, fresh_eval14 0.960 / 0.960 / 3/56 / 0/36,
fresh_eval15 0.930 / 0.949 / 5/56 / 1/36. Pooled over fresh_eval8-15: 743 of 798 risk
messages (0.931), 51 of 455 hard negatives (11 %), 13 of 288 imminent below high.

fresh_eval16.jsonl and fresh_eval17.jsonl (160 messages each, 56 hard negatives, 36
imminent), by two more independent authors, were scored once on arrival mid-round
(fresh_eval16 0.929 / 0.911 / 9/56 / 0/36, fresh_eval17 0.929 / 0.948 / 4/56 / 1/36) and
once with the detector as the round shipped it; nothing was chosen with them, and no row
of them was read. Between the two: reports to the mods as reported speech, "a year ago"
and anniversaries as the distant past, past preparations capped like past acts, identical
patterns under two triggers both reported, five-language farewells that entrust someone
("cuiden a Lu por mí"), and two more training sets (train_y: imminent danger in five
languages; train_z: youth-room false alarms with their twins; 900 rows). Final:
fresh_eval16 0.949 / 0.922 / 8/56 / 0/36, fresh_eval17 0.929 / 0.948 / 4/56 / 1/36;
pooled 186 of 198 risk messages (0.939), 12 of 112 hard negatives (11 %), 1 of 72
imminent below high. The older sets with the final detector: fresh_eval8-15 pooled 751 of
798 (0.941), 50 of 455 hard negatives (11 %), 11 of 288 imminent below high.

Last in the round, the model was allowed to overrule a lexicon finding at high or below
when its own risk probability is under 0.03 (never an imminent finding, abuse, grooming
or contact), chosen by 5-fold cross-validation on the training rows only (52 fewer
hard-negative false alarms there, one risk row lost, no imminent one). The held-out sets
were scored once with it, as a check: fresh_eval8-17 pooled, 937 of 996 risk messages
found both before and after, hard negatives flagged 62 -> 47 of 567 (8.3 %), imminent
below high 12 of 360 both times; fresh_eval16/17 0.949 / 0.969 / 3/56 / 0/36 and
0.929 / 0.968 / 2/56 / 1/36.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from moderation.detector import default_detector
from moderation.evaluate import evaluate, load_rows

HERE = Path(__file__).parent
LANGS = {"en", "es", "pt", "fr", "de", "hi"}


FRESH = [
    "fresh_eval.jsonl",
    "fresh_eval2.jsonl",
    "fresh_eval3.jsonl",
    "fresh_eval4.jsonl",
    "fresh_eval5.jsonl",
    "fresh_eval6.jsonl",
    "fresh_eval7.jsonl",
    "fresh_eval8.jsonl",
    "fresh_eval9.jsonl",
    "fresh_eval10.jsonl",
    "fresh_eval11.jsonl",
    "fresh_eval12.jsonl",
    "fresh_eval13.jsonl",
    "fresh_eval14.jsonl",
    "fresh_eval15.jsonl",
    "fresh_eval16.jsonl",
    "fresh_eval17.jsonl",
]


@pytest.mark.parametrize("name", FRESH)
def test_fresh_rows_are_well_formed(name: str) -> None:
    rows = load_rows(HERE / name)
    ids = set()
    for row in rows:
        assert set(row) == {"id", "room", "lang", "text", "labels", "severity", "hard_negative"}
        assert row["id"] not in ids
        ids.add(row["id"])
    assert {row["lang"] for row in rows} == LANGS


@dataclass(frozen=True)
class Floor:
    """What one fresh set must keep scoring (see the module docstring for its story)."""

    name: str
    recall: float
    precision: float
    hard_negative_fp: float
    imminent_below_high: int
    min_rows: int = 0
    max_misses: int | None = None


FLOORS = [
    # Tuned on: every floor of the real quality bar, with margin recorded.
    Floor("fresh_eval.jsonl", 0.98, 0.97, 0.03, 0, min_rows=250),
    # Used for concept design: tuning floors, not an estimate.
    Floor("fresh_eval2.jsonl", 0.98, 0.97, 0.03, 0),
    # Used for concept design after its one honest baseline.
    # 2/62 hard negatives since the sixth round's model (its own rows are training data).
    Floor("fresh_eval3.jsonl", 0.97, 0.97, 0.04, 0, max_misses=20),
    # Honest once, then tuned on: tuning floors.
    Floor("fresh_eval4.jsonl", 0.97, 0.97, 0.03, 0),
    Floor("fresh_eval5.jsonl", 0.97, 0.97, 0.03, 0),
    # The model's dev set, then training data: tuning floors.
    Floor("fresh_eval6.jsonl", 0.95, 0.97, 0.03, 0),
    # Honest once (0.906 / 0.978 / 0.034 / 5), then training data: tuning floors.
    Floor("fresh_eval7.jsonl", 0.97, 0.97, 0.03, 0),
    # The honest estimate, kept as a floor so it cannot slip (misses never read).
    Floor("fresh_eval8.jsonl", 0.95, 0.89, 0.18, 1),
    Floor("fresh_eval9.jsonl", 0.93, 0.92, 0.13, 1),
    Floor("fresh_eval10.jsonl", 0.9, 0.95, 0.06, 3),
    Floor("fresh_eval11.jsonl", 0.94, 0.955, 0.08, 3),
    Floor("fresh_eval12.jsonl", 0.93, 0.925, 0.13, 2),
    Floor("fresh_eval13.jsonl", 0.94, 0.945, 0.09, 0),
    Floor("fresh_eval14.jsonl", 0.955, 0.965, 0.04, 0),
    Floor("fresh_eval15.jsonl", 0.945, 0.965, 0.06, 1),
    Floor("fresh_eval16.jsonl", 0.945, 0.965, 0.06, 0),
    Floor("fresh_eval17.jsonl", 0.925, 0.965, 0.04, 1),
]


@pytest.mark.parametrize("floor", FLOORS, ids=lambda f: f.name)
def test_fresh_set_floors(floor: Floor) -> None:
    rows = load_rows(HERE / floor.name)
    assert len(rows) >= floor.min_rows
    rep = evaluate(rows, default_detector())
    # Plain numbers only: a failing assert on `rep` itself would print the misses' texts,
    # and nobody may read the held-out rows.
    figures = rep.format()
    misses = len(rep.misses)
    recall, precision = rep.any_risk.recall, rep.any_risk.precision
    fp_rate, below_high = rep.hard_negative_fp_rate, rep.imminent_below_high
    del rep
    if floor.max_misses is not None:
        assert misses <= floor.max_misses, figures
    assert recall >= floor.recall, figures
    assert precision >= floor.precision, figures
    assert fp_rate <= floor.hard_negative_fp, figures
    assert below_high <= floor.imminent_below_high, figures


def test_every_fresh_set_has_a_floor() -> None:
    assert [f.name for f in FLOORS] == FRESH


def test_ordinary_chat_rarely_raises_an_alarm() -> None:
    """False alarms on everyday talk: each one sends a support card to someone who did
    not ask and a flag to a volunteer (measured 8/360 when the thresholds were set)."""
    rows = load_rows(HERE / "benign_eval.jsonl")
    assert all(not r["labels"] and r["severity"] == "none" for r in rows)
    rep = evaluate(rows, default_detector())
    assert rep.any_risk.fp <= 0.03 * len(rows), rep.format()
    assert {r["lang"] for r in rows} == LANGS
