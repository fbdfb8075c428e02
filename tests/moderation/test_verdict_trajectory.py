"""Verdict helpers and the pure trajectory rule."""

from __future__ import annotations

import pytest

from moderation.trajectory import apply_trajectory
from moderation.verdict import CATEGORIES, NO_RISK, Evidence, Severity, Verdict


def test_severity_labels_roundtrip() -> None:
    for s in Severity:
        assert Severity.from_label(s.label) is s
    assert Severity.from_label("HIGH") is Severity.HIGH
    with pytest.raises(ValueError):
        Severity.from_label("severe")


def test_is_risk() -> None:
    assert not NO_RISK.is_risk
    assert not Verdict((), Severity.LOW).is_risk
    assert Verdict((), Severity.MEDIUM).is_risk
    assert Verdict(("contact_sharing",), Severity.LOW).is_risk
    assert len(CATEGORIES) == 6


def test_to_dict() -> None:
    v = Verdict(("self_harm_risk",), Severity.HIGH, (Evidence(1, 4, "self_harm_risk"),))
    assert v.to_dict() == {
        "labels": ["self_harm_risk"],
        "severity": "high",
        "evidence": [{"start": 1, "end": 4, "category": "self_harm_risk"}],
    }


MEDIUM = Verdict(("self_harm_risk",), Severity.MEDIUM, (Evidence(0, 3, "self_harm_risk"),))


def test_trajectory_escalates_repeated_medium() -> None:
    assert apply_trajectory(MEDIUM, 0) == MEDIUM
    assert apply_trajectory(MEDIUM, 1) == MEDIUM
    raised = apply_trajectory(MEDIUM, 2)
    assert raised.severity == Severity.HIGH
    assert raised.categories == MEDIUM.categories and raised.evidence == MEDIUM.evidence
    assert apply_trajectory(MEDIUM, 0, threshold=1).severity == Severity.HIGH


@pytest.mark.parametrize("sev", [Severity.NONE, Severity.LOW, Severity.HIGH, Severity.IMMINENT])
def test_trajectory_leaves_other_levels(sev: Severity) -> None:
    v = Verdict((), sev)
    assert apply_trajectory(v, 10) is v


def test_trajectory_rejects_bad_threshold() -> None:
    with pytest.raises(ValueError):
        apply_trajectory(MEDIUM, 3, threshold=0)
