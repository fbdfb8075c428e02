"""Crisis and support services to offer someone, by room topic and region.

The data lives in `moderation/data/referrals.toml`, a verbatim copy of the
shared, source-checked file. A wrong number given to someone in crisis is worse
than none, so this module never composes, normalises or "fixes" a phone number,
text code or URL: contact fields pass through exactly as written, and loading
fails loudly (ValueError naming the entry and field) on anything malformed.
Loading reads the file once; everything after that is pure.
"""

from __future__ import annotations

import datetime
import enum
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from moderation.verdict import Severity

__all__ = [
    "DEFAULT_DATA",
    "ROOM_TOPICS",
    "STALE_AFTER_DAYS",
    "TOPICS",
    "Directory",
    "Resource",
    "default_directory",
    "topic_for_room",
]

TOPICS: Final = ("general", "ptsd", "substance-use", "youth", "lgbtq")
ROOM_TOPICS: Final[Mapping[str, str]] = {
    "general": "general",
    "ptsd": "ptsd",
    "substance-use": "substance-use",
    "youth": "youth",
    "lgbtq": "lgbtq",
}
#: An entry not re-checked for this many days is marked STALE for operators.
STALE_AFTER_DAYS: Final = 180
ANYWHERE: Final = "*"
#: Resource name of the emergency-number entry put first for imminent risk.
EMERGENCY_NAME: Final = "Emergency services"

Status = Literal["ok", "check"]

_REGION = re.compile(r"[A-Z]{2}")
_REQUIRED_STR = ("id", "name", "region", "source", "status")
_OPTIONAL_STR = ("phone", "phone_alt", "tty", "sms", "url", "chat", "hours", "notes")
_CONTACT = ("phone", "sms", "url", "chat")
_KNOWN_KEYS = frozenset((*_REQUIRED_STR, *_OPTIONAL_STR, "topics", "languages", "checked"))
#: Options a service has withdrawn. Offering one sends a person in crisis to a dead end,
#: so no user-facing field may mention them (the 988 LGBTQ+ "press 3" line ended 2025-07-17).
_WITHDRAWN = re.compile(r"press\s*3|text\s+pride", re.IGNORECASE)
#: Sentences of `notes` meant for operators, not for the person being helped.
_OPERATOR_NOTE = re.compile(r"do not offer|\bended\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_TOPIC_PHRASES: Final[Mapping[str, str]] = {
    "general": "emotional crisis and suicidal thoughts",
    "ptsd": "trauma and PTSD",
    "substance-use": "substance use",
    "youth": "young people",
    "lgbtq": "LGBTQ+ people",
}

#: The packaged copy. Located via __file__, not importlib.resources: a `tests/moderation/`
#: folder on sys.path turns `moderation` into a namespace package under pytest.
DEFAULT_DATA: Final = Path(__file__).resolve().parent / "data" / "referrals.toml"


@dataclass(frozen=True)
class Resource:
    """One service, exactly as sourced; `to_wire()` gives the protocol `resource` object.

    `checked` is None only for emergency-number entries, whose table carries no date.
    `phone_alt` and `tty` are protocol extensions, sent only when present.
    """

    id: str
    name: str
    description: str
    region: str
    languages: tuple[str, ...]
    topics: tuple[str, ...]
    source: str
    checked: datetime.date | None
    status: Status
    phone: str | None = None
    phone_alt: str | None = None
    tty: str | None = None
    sms: str | None = None
    url: str | None = None
    chat: str | None = None
    hours: str | None = None
    notes: str | None = None
    emergency: bool = field(default=False, compare=False)

    def to_wire(self) -> dict[str, Any]:
        """The protocol `resource` dict; absent optional keys are omitted, not null."""
        wire: dict[str, Any] = {"name": self.name, "description": self.description}
        for key in ("phone", "phone_alt", "tty", "sms", "url", "chat", "hours"):
            value = getattr(self, key)
            if value is not None:
                wire[key] = value
        wire["region"] = self.region
        wire["languages"] = list(self.languages)
        wire["topics"] = list(self.topics)
        return wire


def topic_for_room(slug: str, topic_hint: str | None = None) -> str:
    """Referral topic of a room: the default rooms map to themselves.

    Other rooms use `topic_hint` (e.g. from room config) when it is a known
    topic, else "general", whose services cover emotional crisis of any kind.
    """
    topic = ROOM_TOPICS.get(slug)
    if topic is not None:
        return topic
    if topic_hint in TOPICS:
        return str(topic_hint)
    return "general"


def _describe(name: str, topics: Sequence[str], notes: str | None) -> str:
    """User-facing description: the sourced notes minus operator-only sentences.

    Without notes, a factual line from the listed topics only, so nothing is invented.
    """
    if notes:
        kept = [
            sentence
            for sentence in _SENTENCE_END.split(notes.strip())
            if sentence and not _OPERATOR_NOTE.search(sentence) and not _WITHDRAWN.search(sentence)
        ]
        if kept:
            return " ".join(kept)
    phrases = [_TOPIC_PHRASES[t] for t in TOPICS if t in topics]
    if len(phrases) > 1:
        listed = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    else:
        listed = phrases[0] if phrases else "people in distress"
    return f"{name}: support for {listed}."


def _normalize_region(region: str) -> str:
    """Upper-case a region code; "UK" (not ISO 3166-1) means GB."""
    code = region.strip().upper()
    return "GB" if code == "UK" else code


class _Tier(enum.IntEnum):
    TOPIC = 0
    GENERAL = 1
    FALLBACK = 2


def _err(where: str, key: str, problem: str) -> ValueError:
    return ValueError(f"referrals: {where}: field {key!r} {problem}")


def _parse_date(where: str, raw: object) -> datetime.date:
    if isinstance(raw, datetime.datetime):
        raise _err(where, "checked", f"must be a date, not a date-time: {raw!r}")
    if isinstance(raw, datetime.date):
        return raw
    if isinstance(raw, str):
        try:
            return datetime.date.fromisoformat(raw)
        except ValueError:
            pass
    raise _err(where, "checked", f"must be a YYYY-MM-DD date, got {raw!r}")


def _parse_region(where: str, raw: object, key: str = "region") -> str:
    if isinstance(raw, str) and (raw == ANYWHERE or _REGION.fullmatch(raw)):
        return raw
    raise _err(where, key, f"must be an upper-case ISO 3166-1 alpha-2 code or '*', got {raw!r}")


def _parse_str_list(where: str, key: str, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise _err(where, key, f"must be a non-empty list of strings, got {raw!r}")
    items: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            raise _err(where, key, f"must contain only non-empty strings, got {item!r}")
        items.append(item)
    if len(set(items)) != len(items):
        raise _err(where, key, f"has duplicates: {items!r}")
    return tuple(items)


def _parse_service(index: int, raw: object) -> Resource:
    """Validate one [[service]] table; field values are kept verbatim."""
    if not isinstance(raw, dict):
        raise ValueError(f"referrals: service #{index + 1} is not a table")
    ident = raw.get("id")
    where = f"service {ident!r}" if isinstance(ident, str) and ident else f"service #{index + 1}"
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise _err(where, unknown[0], "is not a known field (typo?)")
    strings: dict[str, str | None] = {}
    for key in _REQUIRED_STR:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _err(where, key, "is missing or not a non-empty string")
        strings[key] = value
    for key in _OPTIONAL_STR:
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _err(where, key, f"must be a non-empty string when present, got {value!r}")
        strings[key] = value
    if not any(strings[key] for key in _CONTACT):
        raise _err(where, "phone", "missing: a service needs at least one of phone, sms, url, chat")
    for key in ("url", "chat"):
        value = strings[key]
        if value is not None and not value.startswith("https://"):
            raise _err(where, key, f"must be an https:// URL, got {value!r}")
    for key in ("name", "phone", "phone_alt", "tty", "sms", "url", "chat", "hours"):
        value = strings[key]
        if value is not None and _WITHDRAWN.search(value):
            raise _err(where, key, f"offers a withdrawn option: {value!r}")
    status = strings["status"]
    if status not in ("ok", "check"):
        raise _err(where, "status", f"must be 'ok' or 'check', got {status!r}")
    region = _parse_region(where, strings["region"])
    topics = _parse_str_list(where, "topics", raw.get("topics"))
    for topic in topics:
        if topic not in TOPICS:
            raise _err(where, "topics", f"has unknown topic {topic!r} (known: {', '.join(TOPICS)})")
    languages = _parse_str_list(where, "languages", raw.get("languages"))
    for language in languages:
        if not re.fullmatch(r"[a-z]{2,3}", language):
            raise _err(where, "languages", f"has invalid language code {language!r}")
    checked = _parse_date(where, raw.get("checked"))
    name = str(strings["name"])
    return Resource(
        id=str(strings["id"]),
        name=name,
        description=_describe(name, topics, strings["notes"]),
        region=region,
        languages=languages,
        topics=topics,
        source=str(strings["source"]),
        checked=checked,
        status="ok" if status == "ok" else "check",
        phone=strings["phone"],
        phone_alt=strings["phone_alt"],
        tty=strings["tty"],
        sms=strings["sms"],
        url=strings["url"],
        chat=strings["chat"],
        hours=strings["hours"],
        notes=strings["notes"],
    )


def _parse_emergency(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValueError("referrals: [emergency] table is missing")
    table: dict[str, str] = {}
    for key, value in raw.items():
        region = _parse_region("[emergency]", key, key=str(key))
        if not isinstance(value, str) or not value.strip():
            raise _err("[emergency]", str(key), f"must be a non-empty string, got {value!r}")
        table[region] = value
    if ANYWHERE not in table:
        raise _err("[emergency]", ANYWHERE, "is missing: the fallback for unknown regions")
    return table


class Directory:
    """Validated referral services and emergency numbers; selection is pure.

    `Directory()` loads the packaged copy; `Directory(path)` another TOML file;
    `Directory.from_dict(data)` an already-parsed document (tests, config).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        source = DEFAULT_DATA if path is None else Path(path)
        text = source.read_text(encoding="utf-8")
        origin = os.fspath(source)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"referrals: {origin} is not valid TOML: {exc}") from exc
        self._setup(data)
        self.origin = origin

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "<dict>") -> Directory:
        """Build from a parsed TOML document, with the same validation."""
        directory = cls.__new__(cls)
        directory._setup(data)
        directory.origin = origin
        return directory

    def _setup(self, data: Mapping[str, Any]) -> None:
        unknown = sorted(set(data) - {"service", "emergency"})
        if unknown:
            raise ValueError(f"referrals: unknown top-level key {unknown[0]!r}")
        raw_services = data.get("service")
        if not isinstance(raw_services, list) or not raw_services:
            raise ValueError("referrals: no [[service]] entries")
        services = [_parse_service(i, raw) for i, raw in enumerate(raw_services)]
        seen: set[str] = set()
        for service in services:
            if service.id in seen:
                raise _err(f"service {service.id!r}", "id", "is a duplicate")
            seen.add(service.id)
        if not any(s.region == ANYWHERE for s in services):
            raise ValueError("referrals: no service with region '*' (the fallback)")
        self._services: tuple[Resource, ...] = tuple(services)
        self._emergency: dict[str, str] = _parse_emergency(data.get("emergency"))

    @property
    def services(self) -> tuple[Resource, ...]:
        """All services in file order."""
        return self._services

    @property
    def regions(self) -> frozenset[str]:
        """Regions with at least one service of their own (not counting "*")."""
        return frozenset(s.region for s in self._services if s.region != ANYWHERE)

    def get(self, service_id: str) -> Resource | None:
        """The service with this id, or None."""
        return next((s for s in self._services if s.id == service_id), None)

    def emergency(self, region: str) -> Resource:
        """The emergency-number entry for `region` (the "*" text when not listed).

        For "*" the table holds words, not a number, so they go in the description
        and the resource has no phone: a client must never try to dial them.
        """
        code = _normalize_region(region)
        if code not in self._emergency:
            code = ANYWHERE
        value = self._emergency[code]
        if code == ANYWHERE or not any(ch.isdigit() for ch in value):
            description = f"If you or someone else is in danger right now, call {value}."
            phone = None
        else:
            description = "If you or someone else is in danger right now, call this number."
            phone = value
        return Resource(
            id=f"emergency-{code}",
            name=EMERGENCY_NAME,
            description=description,
            region=code,
            languages=(),
            topics=TOPICS,
            source="[emergency] table of referrals.toml",
            checked=None,
            status="ok",
            phone=phone,
            hours="24/7",
            emergency=True,
        )

    def select(
        self,
        topic: str,
        region: str,
        severity: Severity | None = None,
        limit: int = 4,
        *,
        language: str | None = None,
    ) -> list[Resource]:
        """Services to show for `topic` in `region`, at most `limit`, best first.

        Order: the region's services listing the topic, then the region's general
        services, then the "*" fallback; within each tier entries with status "ok"
        come before "check" (a number confirmed only second-hand), then those
        speaking `language`, then file order. For IMMINENT severity the local
        emergency number comes first and counts toward `limit`. An unknown topic
        is treated as "general"; an unknown region gets the fallback only.
        """
        if limit <= 0:
            return []
        topic = topic if topic in TOPICS else "general"
        code = _normalize_region(region)
        picked: list[tuple[_Tier, int, int, int, Resource]] = []
        for order, service in enumerate(self._services):
            tier: _Tier | None = None
            if service.region == ANYWHERE:
                if topic in service.topics or "general" in service.topics:
                    tier = _Tier.FALLBACK
            elif service.region == code:
                if topic in service.topics:
                    tier = _Tier.TOPIC
                elif "general" in service.topics:
                    tier = _Tier.GENERAL
            if tier is None:
                continue
            unverified = 0 if service.status == "ok" else 1
            foreign = 0 if language is None or language in service.languages else 1
            picked.append((tier, unverified, foreign, order, service))
        picked.sort(key=lambda row: row[:4])
        chosen: list[Resource] = []
        if severity is not None and severity >= Severity.IMMINENT:
            chosen.append(self.emergency(code))
        seen = {r.id for r in chosen}
        for *_, service in picked:
            if service.id not in seen:
                seen.add(service.id)
                chosen.append(service)
        return chosen[:limit]

    def report(self, today: datetime.date) -> list[str]:
        """Lines for `chatserver resources list`: what an operator must re-check.

        One line per service: id, name, region, status, checked date, age in days,
        then STALE (not checked for STALE_AFTER_DAYS days) and/or CHECK (number
        confirmed only by secondary sources); then the undated emergency numbers.
        """
        lines: list[str] = []
        for s in self._services:
            assert s.checked is not None  # services always carry a date
            age = (today - s.checked).days
            marks = []
            if age >= STALE_AFTER_DAYS:
                marks.append("STALE")
            if age < 0:
                marks.append("FUTURE-DATE")
            if s.status == "check":
                marks.append("CHECK")
            line = (
                f"{s.id}\t{s.name}\t{s.region}\t{s.status}\tchecked {s.checked.isoformat()}\t{age}d"
            )
            lines.append(line + ("\t" + " ".join(marks) if marks else ""))
        for code, value in self._emergency.items():
            lines.append(f"emergency-{code}\t{EMERGENCY_NAME}: {value}\t{code}\t-\tundated")
        return lines


def default_directory() -> Directory:
    """The packaged directory, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Directory()
    return _DEFAULT


_DEFAULT: Directory | None = None
