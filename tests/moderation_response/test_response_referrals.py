"""Referral data and selection: a person in crisis must get the verified numbers."""

from __future__ import annotations

import datetime
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from moderation.referrals import (
    STALE_AFTER_DAYS,
    TOPICS,
    Directory,
    Resource,
    default_directory,
    topic_for_room,
)
from moderation.verdict import Severity

REPO = Path(__file__).resolve().parents[2]
PROJECT_COPY = REPO / "moderation" / "data" / "referrals.toml"
SHARED = REPO.parent / "shared" / "referrals.toml"
CONTACT_KEYS = ("phone", "phone_alt", "tty", "sms", "url", "chat")


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _service(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "xx-test",
        "name": "Test Line",
        "region": "US",
        "topics": ["general"],
        "languages": ["en"],
        "url": "https://example.org",
        "source": "test",
        "checked": "2026-01-01",
        "status": "ok",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _doc(*services: dict[str, Any]) -> dict[str, Any]:
    fallback = _service(id="intl", region="*", topics=list(TOPICS))
    return {"service": [*services, fallback], "emergency": {"US": "911", "*": "your local number"}}


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory()


# --- the data itself -------------------------------------------------------------------


@pytest.mark.skipif(not SHARED.exists(), reason=f"shared referral file not found at {SHARED}")
def test_project_copy_matches_shared_file() -> None:
    shared, ours = _load(SHARED), _load(PROJECT_COPY)
    assert ours == shared, "moderation/data/referrals.toml must equal the shared, verified file"
    shared_by_id = {s["id"]: s for s in shared["service"]}
    assert {s["id"] for s in ours["service"]} == set(shared_by_id)
    for service in ours["service"]:
        for key in CONTACT_KEYS:
            assert service.get(key) == shared_by_id[service["id"]].get(key), (service["id"], key)
    assert ours["emergency"] == shared["emergency"]


@pytest.mark.skipif(not SHARED.exists(), reason=f"shared referral file not found at {SHARED}")
def test_loaded_resources_carry_the_shared_numbers_verbatim(directory: Directory) -> None:
    shared_by_id = {s["id"]: s for s in _load(SHARED)["service"]}
    assert [r.id for r in directory.services] == list(shared_by_id)
    for resource in directory.services:
        raw = shared_by_id[resource.id]
        for key in CONTACT_KEYS:
            assert getattr(resource, key) == raw.get(key), (resource.id, key)
        wire = resource.to_wire()
        for key in CONTACT_KEYS:
            assert wire.get(key) == raw.get(key), (resource.id, key)


def test_default_directory_is_the_packaged_copy() -> None:
    assert [r.id for r in default_directory().services] == [
        s["id"] for s in _load(PROJECT_COPY)["service"]
    ]


def test_988_never_offers_the_ended_press_3_option(directory: Directory) -> None:
    lifeline = directory.get("us-988")
    assert lifeline is not None
    withdrawn = re.compile(r"press\s*3|pride|lgbtq\+ youth option", re.IGNORECASE)
    for topic in TOPICS:
        for severity in Severity:
            for resource in directory.select(topic, "US", severity, limit=10):
                assert not withdrawn.search(repr(resource.to_wire())), resource.id
    assert not withdrawn.search(repr(lifeline.to_wire()))


def test_wire_shape_omits_absent_optional_keys(directory: Directory) -> None:
    text_line = directory.get("us-crisis-text-line")
    assert text_line is not None
    wire = text_line.to_wire()
    assert "phone" not in wire and "chat" not in wire
    assert wire["sms"] == "text HOME to 741741"
    assert isinstance(wire["languages"], list) and isinstance(wire["topics"], list)
    for resource in directory.services:
        wire = resource.to_wire()
        assert {"name", "description", "region", "languages", "topics"} <= set(wire)
        assert all(value is not None for value in wire.values())
        assert wire["description"].strip()


def test_description_is_notes_or_derived(directory: Directory) -> None:
    samhsa = directory.get("us-samhsa-helpline")
    shout = directory.get("gb-shout")
    assert samhsa is not None and shout is not None
    assert samhsa.description == samhsa.notes
    assert shout.description.startswith("Shout: support for ")


# --- selection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "region"), [("general", "US"), ("ptsd", "GB"), ("youth", "CA"), ("lgbtq", "ZZ")]
)
def test_imminent_puts_emergency_first(directory: Directory, topic: str, region: str) -> None:
    picked = directory.select(topic, region, Severity.IMMINENT)
    assert picked[0].emergency and picked[0].name == "Emergency services"
    assert picked[0].hours == "24/7"
    assert not any(r.emergency for r in picked[1:])
    for severity in (None, Severity.LOW, Severity.MEDIUM, Severity.HIGH):
        assert not any(r.emergency for r in directory.select(topic, region, severity))


def test_emergency_numbers_come_from_the_table(directory: Directory) -> None:
    table = _load(PROJECT_COPY)["emergency"]
    for region, number in table.items():
        if region == "*":
            continue
        first = directory.select("general", region, Severity.IMMINENT)[0]
        assert first.phone == number and first.region == region


def test_unknown_region_emergency_has_no_phone(directory: Directory) -> None:
    first = directory.select("general", "DE", Severity.IMMINENT)[0]
    assert first.phone is None and "phone" not in first.to_wire()
    assert "your local emergency number" in first.description
    assert first.region == "*"


def test_substance_use_in_us(directory: Directory) -> None:
    names = [r.name for r in directory.select("substance-use", "US")]
    assert "SAMHSA National Helpline" in names
    assert "988 Suicide & Crisis Lifeline" in names


def test_youth_in_canada(directory: Directory) -> None:
    names = [r.name for r in directory.select("youth", "CA")]
    assert "Kids Help Phone" in names


def test_ptsd_in_gb(directory: Directory) -> None:
    picked = directory.select("ptsd", "GB")
    assert picked[0].name == "Samaritans" and picked[0].phone == "116 123"


def test_region_is_case_insensitive_and_uk_means_gb(directory: Directory) -> None:
    assert directory.select("ptsd", "gb") == directory.select("ptsd", "UK")


@pytest.mark.parametrize("region", ["ZZ", "DE", "*", ""])
def test_unknown_region_gets_find_a_helpline(directory: Directory, region: str) -> None:
    picked = directory.select("ptsd", region)
    assert [r.id for r in picked] == ["intl-findahelpline"]


def test_order_topic_then_general_then_fallback(directory: Directory) -> None:
    picked = directory.select("youth", "AU", limit=10)
    assert [r.id for r in picked] == ["au-kids-helpline", "au-lifeline", "intl-findahelpline"]


def test_verified_entries_before_unverified_in_a_tier(directory: Directory) -> None:
    picked = directory.select("lgbtq", "US", limit=10)
    statuses = [r.status for r in picked if r.region == "US"]
    assert statuses == sorted(statuses, key=lambda s: s != "ok")
    assert "us-trevor-project" in [r.id for r in picked]


def test_limit_and_dedupe(directory: Directory) -> None:
    for topic in TOPICS:
        picked = directory.select(topic, "US", Severity.IMMINENT, limit=4)
        assert len(picked) <= 4
        assert len({r.id for r in picked}) == len(picked)
    assert directory.select("general", "US", limit=0) == []
    assert [r.emergency for r in directory.select("general", "US", Severity.IMMINENT, 1)] == [True]


def test_unknown_topic_is_general(directory: Directory) -> None:
    assert directory.select("astrology", "GB") == directory.select("general", "GB")


@pytest.mark.parametrize(
    ("slug", "hint", "topic"),
    [
        ("general", None, "general"),
        ("ptsd", None, "ptsd"),
        ("substance-use", None, "substance-use"),
        ("youth", None, "youth"),
        ("lgbtq", "ptsd", "lgbtq"),
        ("veterans", "ptsd", "ptsd"),
        ("book-club", None, "general"),
        ("book-club", "nonsense", "general"),
    ],
)
def test_topic_for_room(slug: str, hint: str | None, topic: str) -> None:
    assert topic_for_room(slug, hint) == topic


# --- operator report -------------------------------------------------------------------


def test_report_marks_stale_and_check(directory: Directory) -> None:
    checked = min(r.checked for r in directory.services if r.checked is not None)
    fresh = directory.report(checked + datetime.timedelta(days=STALE_AFTER_DAYS - 1))
    stale = directory.report(checked + datetime.timedelta(days=STALE_AFTER_DAYS))
    by_id = {line.split("\t", 1)[0]: line for line in fresh}
    assert "STALE" not in by_id["gb-samaritans"]
    assert "CHECK" in by_id["us-trevor-project"] and "CHECK" not in by_id["us-988"]
    assert f"{STALE_AFTER_DAYS - 1}d" in by_id["us-988"]
    assert checked.isoformat() in by_id["us-988"]
    stale_by_id = {line.split("\t", 1)[0]: line for line in stale}
    assert all("STALE" in stale_by_id[r.id] for r in directory.services)
    assert (
        "STALE" in stale_by_id["us-trevor-project"] and "CHECK" in stale_by_id["us-trevor-project"]
    )
    assert all(r.id in stale_by_id for r in directory.services)


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "name"),
        ({"checked": "25/11/2026"}, "checked"),
        ({"checked": "2026-02-30"}, "checked"),
        ({"region": "usa"}, "region"),
        ({"region": "us"}, "region"),
        ({"topics": ["general", "astrology"]}, "topics"),
        ({"topics": []}, "topics"),
        ({"languages": "en"}, "languages"),
        ({"status": "maybe"}, "status"),
        ({"url": None}, "phone"),
        ({"url": "http://example.org"}, "url"),
        ({"phnoe": "123"}, "phnoe"),
        ({"phone": 988}, "phone"),
        ({"notes": ""}, "notes"),
        ({"sms": "text PRIDE to 678678"}, "sms"),
    ],
)
def test_validation_names_entry_and_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=rf"xx-test.*'{field}'"):
        Directory.from_dict(_doc(_service(**changes)))


def test_validation_of_document_structure() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Directory.from_dict(_doc(_service(), _service()))
    with pytest.raises(ValueError, match=r"\[emergency\].*'\*'"):
        Directory.from_dict({"service": _doc()["service"], "emergency": {"US": "911"}})
    with pytest.raises(ValueError, match=r"\[emergency\].*'usa'"):
        Directory.from_dict({"service": _doc()["service"], "emergency": {"usa": "911", "*": "x"}})
    with pytest.raises(ValueError, match="fallback"):
        Directory.from_dict({"service": [_service()], "emergency": {"*": "x"}})


def test_load_from_explicit_path() -> None:
    assert [r.id for r in Directory(PROJECT_COPY).services] == [
        r.id for r in default_directory().services
    ]


def test_resource_is_frozen(directory: Directory) -> None:
    resource: Resource = directory.services[0]
    with pytest.raises(AttributeError):
        resource.phone = "000"  # type: ignore[misc]
