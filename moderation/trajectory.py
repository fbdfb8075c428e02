"""Escalation over time for one user, kept pure: the caller stores counts (e.g. in Redis).

A single medium message (passive ideation) is common in peer support; the same person
saying it again and again within a short window is a recognised warning sign, so the
pipeline asks for a human look by raising the severity to high.
"""

from __future__ import annotations

from moderation.verdict import Severity, Verdict


def apply_trajectory(verdict: Verdict, recent_medium_count: int, *, threshold: int = 3) -> Verdict:
    """Raise a medium verdict to high when the user already had `threshold`-1 or more.

    `recent_medium_count` is the number of earlier medium-or-higher messages from the same
    user inside the caller's window (the current message excluded). Counting the current
    one, `threshold` medium signals in the window escalate to high. Other verdicts are
    returned unchanged: low/none never escalate (hyperbole should not snowball) and high
    or imminent are already above the target.
    """
    if threshold < 1:
        raise ValueError("threshold must be >= 1")
    if verdict.severity != Severity.MEDIUM:
        return verdict
    if recent_medium_count + 1 < threshold:
        return verdict
    return Verdict(
        categories=verdict.categories, severity=Severity.HIGH, evidence=verdict.evidence
    )
