"""Score the detector against labelled JSONL files.

`python -m moderation.evaluate [FILE...]` prints per-category precision/recall, any-risk
precision/recall, the false-positive rate on hard negatives and how many imminent
messages were rated below high (the one error that must never happen).
Defaults to tests/moderation/labelled.jsonl and dev_holdout.jsonl when run from the repo.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moderation.detector import Detector, default_detector
from moderation.verdict import CATEGORIES, Severity, Verdict, is_any_risk

_DEFAULT_FILES = ("tests/moderation/labelled.jsonl", "tests/moderation/dev_holdout.jsonl")


@dataclass(slots=True)
class Counts:
    """True/false positives and false negatives for one label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """1.0 when nothing was predicted (no false alarms)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """1.0 when there was nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(slots=True)
class Miss:
    """One disagreement, kept for the printed report."""

    id: str
    text: str
    expected: str
    got: str


@dataclass(slots=True)
class Report:
    """Everything the tests assert on and the CLI prints."""

    total: int = 0
    per_category: dict[str, Counts] = field(
        default_factory=lambda: {c: Counts() for c in CATEGORIES}
    )
    any_risk: Counts = field(default_factory=Counts)
    hard_negatives: int = 0
    hard_negative_fp: int = 0
    imminent_total: int = 0
    imminent_below_high: int = 0
    severity_exact: int = 0
    misses: list[Miss] = field(default_factory=list)

    @property
    def hard_negative_fp_rate(self) -> float:
        """Share of hard negatives the detector called risk."""
        return self.hard_negative_fp / self.hard_negatives if self.hard_negatives else 0.0

    def add(self, row: Mapping[str, Any], got: Sequence[str], severity: Severity) -> None:
        """Tally one labelled row against what was found for it."""
        self.total += 1
        exp_labels = set(row.get("labels", ()))
        exp_sev = Severity.from_label(str(row.get("severity", "none")))
        got_labels = set(got)
        for cat, c in self.per_category.items():
            if cat in got_labels and cat in exp_labels:
                c.tp += 1
            elif cat in got_labels:
                c.fp += 1
            elif cat in exp_labels:
                c.fn += 1
        exp_risk = is_any_risk(exp_labels, exp_sev)
        got_risk = is_any_risk(got_labels, severity)
        if exp_risk and got_risk:
            self.any_risk.tp += 1
        elif got_risk:
            self.any_risk.fp += 1
        elif exp_risk:
            self.any_risk.fn += 1
        if row.get("hard_negative"):
            self.hard_negatives += 1
            self.hard_negative_fp += int(got_risk)
        if exp_sev == Severity.IMMINENT:
            self.imminent_total += 1
            self.imminent_below_high += int(severity < Severity.HIGH)
        self.severity_exact += int(severity == exp_sev)
        if exp_risk != got_risk or (exp_sev == Severity.IMMINENT and severity < Severity.HIGH):
            self.misses.append(
                Miss(
                    str(row.get("id", self.total)),
                    str(row["text"]),
                    _describe(sorted(exp_labels), exp_sev),
                    _describe(got, severity),
                )
            )

    def format(self) -> str:
        """Human-readable table."""
        lines = [f"messages: {self.total}"]
        lines.append(f"{'category':<22}{'prec':>7}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}")
        for cat, c in self.per_category.items():
            lines.append(
                f"{cat:<22}{c.precision:>7.3f}{c.recall:>8.3f}{c.tp:>5}{c.fp:>5}{c.fn:>5}"
            )
        a = self.any_risk
        lines.append(
            f"{'ANY RISK':<22}{a.precision:>7.3f}{a.recall:>8.3f}{a.tp:>5}{a.fp:>5}{a.fn:>5}"
        )
        lines.append(
            f"hard-negative FP rate: {self.hard_negative_fp_rate:.3f} "
            f"({self.hard_negative_fp}/{self.hard_negatives})"
        )
        lines.append(
            f"imminent rated below high: {self.imminent_below_high}/{self.imminent_total}"
        )
        lines.append(f"exact severity: {self.severity_exact}/{self.total}")
        return "\n".join(lines)


def _describe(labels: Sequence[str], severity: Severity) -> str:
    return f"{severity.label} {list(labels)}"


def evaluate(rows: Iterable[Mapping[str, Any]], detector: Detector) -> Report:
    """Classify every labelled row and tally the metrics."""
    rep = Report()
    for row in rows:
        v: Verdict = detector.classify(
            str(row["text"]), room=str(row.get("room", "general")), lang=row.get("lang")
        )
        rep.add(row, v.categories, v.severity)
    return rep


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file, skipping blank lines."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints one report per file."""
    ap = argparse.ArgumentParser(
        prog="python -m moderation.evaluate",
        description="Score the detector against labelled JSONL files.",
    )
    ap.add_argument("files", nargs="*", type=Path,
                    help=f"labelled JSONL files (default: {', '.join(_DEFAULT_FILES)})")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = ap.parse_args(argv)
    files = args.files or [Path(f) for f in _DEFAULT_FILES if Path(f).exists()]
    det = default_detector()
    for f in files:
        try:
            rows = load_rows(f)
        except (OSError, ValueError) as exc:
            ap.error(f"{f}: {exc}")
        rep = evaluate(rows, det)
        print(f"== {f}")
        print(rep.format())
        if args.verbose:
            for m in rep.misses:
                print(f"  MISS {m.id}: expected {m.expected}, got {m.got}: {m.text[:100]}")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
