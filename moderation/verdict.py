"""Verdict types shared by the detector, the server pipeline and moderator tools.

Kept free of any detector logic so that other packages can import it cheaply and
construct verdicts in tests without loading the lexicons.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

CATEGORIES: tuple[str, ...] = (
    "self_harm_risk",
    "overdose_risk",
    "harm_to_others",
    "abuse_disclosure",
    "encourages_self_harm",
    "contact_sharing",
)

#: Categories that always count as risk regardless of severity (contact sharing does not:
#: in adult rooms it is only worth a low-severity note).
RISK_CATEGORIES: frozenset[str] = frozenset(CATEGORIES[:5])


class Severity(enum.IntEnum):
    """Columbia-style ladder; IntEnum so callers can compare and take max() directly."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    IMMINENT = 4

    @property
    def label(self) -> str:
        """Wire spelling used by PROTOCOL.md (lower-case name)."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Severity:
        """Parse the wire spelling; raises ValueError for unknown labels."""
        try:
            return cls[label.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity label: {label!r}") from None


@dataclass(frozen=True, slots=True)
class Evidence:
    """A span of the ORIGINAL message text (str indices, end exclusive) behind a category."""

    start: int
    end: int
    category: str

    def to_dict(self) -> dict[str, Any]:
        """JSON shape used in `flag.evidence`."""
        return {"start": self.start, "end": self.end, "category": self.category}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of classifying one message; immutable so it can be cached and shared."""

    categories: tuple[str, ...]
    severity: Severity
    evidence: tuple[Evidence, ...] = ()

    @property
    def is_risk(self) -> bool:
        """True when moderators or the writer's support flow should act."""
        return self.severity >= Severity.MEDIUM or bool(self.categories)

    @property
    def labels(self) -> list[str]:
        """Categories as a list, the wire name used by `moderation classify`."""
        return list(self.categories)

    def to_dict(self) -> dict[str, Any]:
        """Wire shape: {"labels", "severity", "evidence"}."""
        return {
            "labels": list(self.categories),
            "severity": self.severity.label,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def is_any_risk(categories: Iterable[str], severity: Severity) -> bool:
    """The headline definition of risk: severity >= medium or any of the first five
    categories (contact sharing alone is not)."""
    return severity >= Severity.MEDIUM or any(c in RISK_CATEGORIES for c in categories)


NO_RISK = Verdict(categories=(), severity=Severity.NONE, evidence=())
