"""What a room does with a message once the detector has judged it.

Each room maps detector categories to an action: deliver it, deliver it
behind a content warning (warn), or hold it for a moderator (hold).

The one rule no configuration can override: a person's OWN crisis message
(self_harm_risk, overdose_risk, abuse_disclosure) is never held. Someone
reaching out who sees their words vanish learns that asking for help gets them
silenced, and when no moderator is on duty nobody would ever approve it. A hold
from any source (room config, the unstaffed policy, or another category of the
same message, e.g. encouragement alongside a disclosure) is downgraded to warn,
and the message is flagged so a moderator still sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from moderation.verdict import CATEGORIES, Severity, Verdict

__all__ = [
    "ACTIONS",
    "DEFAULT_POLICY",
    "OWN_CRISIS",
    "YOUTH_POLICY",
    "Action",
    "Decision",
    "RoomPolicy",
    "decide",
    "policy_for_room",
]

Action = Literal["deliver", "warn", "hold"]
ACTIONS: Final[tuple[Action, ...]] = ("deliver", "warn", "hold")
_STRICTNESS: Final[Mapping[Action, int]] = {"deliver": 0, "warn": 1, "hold": 2}

#: The writer's own crisis: never held (see the module docstring).
OWN_CRISIS: Final = frozenset({"self_harm_risk", "overdose_risk", "abuse_disclosure"})
#: Findings that earn the writer a support message from MEDIUM severity up.
_SUPPORT_FROM_MEDIUM: Final = frozenset(OWN_CRISIS | {"harm_to_others"})
#: Findings that always earn a gentler note (guidelines, privacy), whatever the severity.
_SUPPORT_ALWAYS: Final = frozenset({"encourages_self_harm", "contact_sharing"})

#: Content-warning wording per category, in CATEGORIES order.
_CW_TOPIC: Final[Mapping[str, str]] = {
    "self_harm_risk": "self-harm",
    "overdose_risk": "substance use",
    "abuse_disclosure": "abuse",
    "harm_to_others": "violence",
    "encourages_self_harm": "self-harm",
}
_CW_CONTACT: Final = "contains contact details"


def _parse_action(key: str, value: object) -> Action:
    """Validate one config value; the error names the key so the operator can find it."""
    if isinstance(value, str):
        normalized = value.strip().lower()
        if normalized in ACTIONS:
            return normalized
    raise ValueError(
        f"moderation policy: {key!r} must be one of {', '.join(ACTIONS)}, got {value!r}"
    )


def _parse_actions(config: Mapping[str, object]) -> dict[str, Action]:
    actions: dict[str, Action] = {}
    for key, value in config.items():
        if key not in CATEGORIES:
            raise ValueError(
                f"moderation policy: unknown category {key!r} (known: {', '.join(CATEGORIES)})"
            )
        actions[key] = _parse_action(key, value)
    return actions


@dataclass(frozen=True)
class RoomPolicy:
    """A room's category -> action map; categories not listed are delivered.

    `youth` marks a room whose members are minors: contact sharing there is
    flagged for moderators whatever the action.
    """

    actions: Mapping[str, Action] = field(default_factory=dict, hash=False)
    youth: bool = False

    def __post_init__(self) -> None:
        # Validate even when built directly, and freeze the mapping.
        checked = _parse_actions(self.actions)
        object.__setattr__(self, "actions", MappingProxyType(checked))

    @classmethod
    def from_config(cls, config: Mapping[str, object], *, youth: bool = False) -> RoomPolicy:
        """Build from a config table {category: "deliver" | "warn" | "hold"}.

        Raises ValueError naming the key for an unknown category or action.
        """
        return cls(_parse_actions(config), youth=youth)

    def with_overrides(self, overrides: Mapping[str, object]) -> RoomPolicy:
        """This policy with some categories' actions replaced (validated)."""
        return RoomPolicy({**self.actions, **_parse_actions(overrides)}, youth=self.youth)

    def action_for(self, category: str) -> Action:
        """The configured action for one category ("deliver" when not listed)."""
        return self.actions.get(category, "deliver")


DEFAULT_POLICY: Final = RoomPolicy.from_config(
    {
        # Crisis disclosures are delivered: silencing someone reaching out harms them.
        "self_harm_risk": "deliver",
        "overdose_risk": "deliver",
        "abuse_disclosure": "deliver",
        "harm_to_others": "warn",
        "encourages_self_harm": "hold",
        "contact_sharing": "deliver",
    }
)
#: Minors: contact details (grooming, off-platform contact) wait for a moderator.
YOUTH_POLICY: Final = RoomPolicy({**DEFAULT_POLICY.actions, "contact_sharing": "hold"}, youth=True)


def policy_for_room(
    slug: str, audience: str, overrides: Mapping[str, object] | None = None
) -> RoomPolicy:
    """The policy of one room: the youth or default policy, then the room's overrides.

    A room is a youth room when its audience is "youth" or its slug is "youth"
    (either is enough: erring toward minors' safety). Overrides may set any
    category to any action, but a hold on an own-crisis category is still
    downgraded to warn by `decide`.
    """
    base = YOUTH_POLICY if audience == "youth" or slug == "youth" else DEFAULT_POLICY
    return base.with_overrides(overrides) if overrides else base


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one message.

    action: deliver / warn (deliver with `cw`) / hold for review.
    send_support: send the writer a private `support` event.
    flag: open a moderator flag.
    downgraded: a hold was turned into warn because the message is the writer's
    own crisis; worth logging, and it is always flagged.
    """

    action: Action
    cw: str | None
    send_support: bool
    flag: bool
    downgraded: bool = False


def _content_warning(categories: tuple[str, ...]) -> str:
    """A short label such as "mentions self-harm and abuse"."""
    topics: list[str] = []
    for category in CATEGORIES:
        topic = _CW_TOPIC.get(category)
        if category in categories and topic is not None and topic not in topics:
            topics.append(topic)
    parts: list[str] = []
    if topics:
        listed = topics[0] if len(topics) == 1 else ", ".join(topics[:-1]) + " and " + topics[-1]
        parts.append(f"mentions {listed}")
    if "contact_sharing" in categories:
        parts.append(_CW_CONTACT)
    return "; ".join(parts) if parts else "sensitive content"


def decide(
    verdict: Verdict, policy: RoomPolicy, *, unstaffed_policy: RoomPolicy | None = None
) -> Decision:
    """Decide delivery, content warning, support and flagging for one verdict.

    Pass `unstaffed_policy` when no moderator is on duty: its actions then
    replace `policy`'s (the room's youth marking still counts). The action is
    the strictest over the verdict's categories (hold > warn > deliver), except
    that the writer's own crisis is never held: hold becomes warn, and is flagged.
    """
    active = unstaffed_policy if unstaffed_policy is not None else policy
    youth = policy.youth or active.youth
    categories = tuple(dict.fromkeys(verdict.categories))
    found = frozenset(categories)

    action: Action = "deliver"
    for category in categories:
        candidate = active.action_for(category)
        if _STRICTNESS[candidate] > _STRICTNESS[action]:
            action = candidate
    downgraded = action == "hold" and bool(found & OWN_CRISIS)
    if downgraded:
        action = "warn"

    medium = verdict.severity >= Severity.MEDIUM
    send_support = (medium and bool(found & _SUPPORT_FROM_MEDIUM)) or bool(found & _SUPPORT_ALWAYS)
    flag = medium or ("contact_sharing" in found and youth) or downgraded
    return Decision(
        action=action,
        cw=_content_warning(categories) if action == "warn" else None,
        send_support=send_support,
        flag=flag,
        downgraded=downgraded,
    )
