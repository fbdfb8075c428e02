"""Room policy: strictest action wins, but a person's own crisis is never silenced."""

from __future__ import annotations

import itertools

import pytest

from moderation.policy import (
    DEFAULT_POLICY,
    OWN_CRISIS,
    RoomPolicy,
    decide,
    policy_for_room,
)
from moderation.verdict import CATEGORIES, Severity, Verdict


def v(*categories: str, severity: Severity = Severity.MEDIUM) -> Verdict:
    return Verdict(categories=tuple(categories), severity=severity, evidence=())


HOLD_ALL = RoomPolicy.from_config(dict.fromkeys(CATEGORIES, "hold"))


def test_defaults() -> None:
    for category in OWN_CRISIS:
        assert DEFAULT_POLICY.action_for(category) == "deliver"
    assert DEFAULT_POLICY.action_for("harm_to_others") == "warn"
    assert DEFAULT_POLICY.action_for("encourages_self_harm") == "hold"
    assert DEFAULT_POLICY.action_for("contact_sharing") == "deliver"
    youth = policy_for_room("youth", "youth", None)
    assert youth.action_for("contact_sharing") == "hold" and youth.youth
    assert policy_for_room("teens", "youth", {}).action_for("contact_sharing") == "hold"
    assert policy_for_room("general", "all", None) == DEFAULT_POLICY


def test_no_risk_is_delivered_quietly() -> None:
    decision = decide(v(severity=Severity.NONE), DEFAULT_POLICY)
    assert (decision.action, decision.cw, decision.send_support, decision.flag) == (
        "deliver",
        None,
        False,
        False,
    )


def test_strictest_action_wins() -> None:
    decision = decide(v("harm_to_others", "encourages_self_harm"), DEFAULT_POLICY)
    assert decision.action == "hold" and decision.cw is None
    decision = decide(v("harm_to_others", "contact_sharing"), DEFAULT_POLICY)
    assert (
        decision.action == "warn" and decision.cw == "mentions violence; contains contact details"
    )


@pytest.mark.parametrize("category", sorted(OWN_CRISIS))
@pytest.mark.parametrize("severity", list(Severity))
def test_own_crisis_is_never_held(category: str, severity: Severity) -> None:
    rooms = [
        policy_for_room("general", "all", None),
        policy_for_room("youth", "youth", {category: "hold"}),
        HOLD_ALL,
    ]
    for policy, unstaffed in itertools.product(rooms, [None, HOLD_ALL]):
        decision = decide(v(category, severity=severity), policy, unstaffed_policy=unstaffed)
        assert decision.action != "hold"
    decision = decide(v(category, severity=severity), DEFAULT_POLICY, unstaffed_policy=HOLD_ALL)
    assert decision.action == "warn" and decision.downgraded and decision.flag
    assert decision.cw is not None and decision.cw.startswith("mentions ")


def test_own_crisis_with_other_findings_is_still_not_held() -> None:
    for extra in ("encourages_self_harm", "contact_sharing"):
        decision = decide(v("self_harm_risk", extra), policy_for_room("youth", "youth", None))
        assert decision.action == "warn" and decision.downgraded and decision.flag


def test_unstaffed_policy_replaces_actions() -> None:
    unstaffed = RoomPolicy.from_config({"encourages_self_harm": "warn"})
    decision = decide(v("encourages_self_harm"), DEFAULT_POLICY, unstaffed_policy=unstaffed)
    assert decision.action == "warn" and decision.cw == "mentions self-harm"
    decision = decide(v("harm_to_others"), DEFAULT_POLICY, unstaffed_policy=HOLD_ALL)
    assert decision.action == "hold" and not decision.downgraded


def test_content_warning_labels() -> None:
    warn_all = RoomPolicy.from_config(dict.fromkeys(CATEGORIES, "warn"))
    assert decide(v("self_harm_risk"), warn_all).cw == "mentions self-harm"
    assert decide(v("overdose_risk", "abuse_disclosure"), warn_all).cw == (
        "mentions substance use and abuse"
    )
    assert decide(v("contact_sharing"), warn_all).cw == "contains contact details"
    assert decide(v("self_harm_risk"), DEFAULT_POLICY).cw is None


@pytest.mark.parametrize(
    ("categories", "severity", "support", "flag"),
    [
        (("self_harm_risk",), Severity.LOW, False, False),
        (("self_harm_risk",), Severity.MEDIUM, True, True),
        (("overdose_risk",), Severity.IMMINENT, True, True),
        (("abuse_disclosure",), Severity.HIGH, True, True),
        (("harm_to_others",), Severity.MEDIUM, True, True),
        (("harm_to_others",), Severity.LOW, False, False),
        (("encourages_self_harm",), Severity.LOW, True, False),
        (("contact_sharing",), Severity.LOW, True, False),
    ],
)
def test_support_and_flag(
    categories: tuple[str, ...], severity: Severity, support: bool, flag: bool
) -> None:
    decision = decide(v(*categories, severity=severity), DEFAULT_POLICY)
    assert (decision.send_support, decision.flag) == (support, flag)


def test_contact_sharing_in_youth_room_is_held_and_flagged() -> None:
    decision = decide(
        v("contact_sharing", severity=Severity.LOW), policy_for_room("youth", "youth", None)
    )
    assert decision.action == "hold" and decision.flag and decision.send_support
    # The unstaffed policy cannot make a youth room stop flagging contact sharing.
    lenient = RoomPolicy.from_config({"contact_sharing": "deliver"})
    decision = decide(
        v("contact_sharing", severity=Severity.LOW),
        policy_for_room("youth", "youth", None),
        unstaffed_policy=lenient,
    )
    assert decision.action == "deliver" and decision.flag


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"self_harm_risk": "block"}, "self_harm_risk"),
        ({"contact_sharing": 1}, "contact_sharing"),
        ({"spam": "hold"}, "spam"),
    ],
)
def test_config_validation_names_the_key(config: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=repr(key)):
        RoomPolicy.from_config(config)
    with pytest.raises(ValueError, match=repr(key)):
        policy_for_room("general", "all", config)


def test_config_values_are_normalised() -> None:
    assert RoomPolicy.from_config({"harm_to_others": " HOLD "}).action_for("harm_to_others") == (
        "hold"
    )
