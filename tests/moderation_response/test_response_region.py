"""Region and language resolution from untrusted client hints."""

from __future__ import annotations

import pytest

from moderation.region import language_of, parse_accept_language, resolve_region


@pytest.mark.parametrize(
    ("locale", "accept", "default", "expected"),
    [
        ("en-GB", None, "US", "GB"),
        ("pt_BR", None, "US", "BR"),
        ("fr-CA", "en-US", "US", "CA"),
        (None, "en-US,en;q=0.9", "*", "US"),
        ("en_US.UTF-8", None, "*", "US"),
        ("de_DE@euro", None, "*", "DE"),
        ("zh-Hant-TW", None, "*", "TW"),
        ("en-uk", None, "*", "GB"),
        ("en", "fr-CA", "US", "CA"),  # language-only locale: next source
        ("en", None, "US", "US"),
        ("en", "en", "*", "*"),
        ("es-419", None, "MX", "MX"),  # a continent, not a country
        (None, "fr, en-US;q=0.8", "*", "US"),
        (None, "en-GB;q=0.5, en-IE;q=0.9", "*", "IE"),
        (None, "en-GB;q=0, en", "AU", "AU"),  # q=0 means "not acceptable"
        (None, "*, de-AT", "*", "AT"),
        ("", "", "in", "IN"),
        (None, None, "*", "*"),
        ("C", None, "GB", "GB"),
        ("!!garbage--", "%%%;;q=x", "US", "US"),
    ],
)
def test_resolve_region(
    locale: str | None, accept: str | None, default: str, expected: str
) -> None:
    assert resolve_region(locale, accept, default) == expected


def test_bad_default_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="default region"):
        resolve_region(None, None, "United States")


def test_hostile_header_is_bounded() -> None:
    header = ",".join(["xx"] * 100_000) + ",en-GB"
    assert resolve_region(None, header, "*") == "*"
    assert len(parse_accept_language(header)) <= 32


@pytest.mark.parametrize(
    ("locale", "accept", "expected"),
    [
        ("pt_BR", None, "pt"),
        ("fr-CA", "en", "fr"),
        (None, "es-MX,es;q=0.9,en;q=0.8", "es"),
        (None, "en;q=0.2, hi-IN", "hi"),
        ("C", "de", "de"),
        (None, None, "en"),
        ("", "*", "en"),
    ],
)
def test_language_of(locale: str | None, accept: str | None, expected: str) -> None:
    assert language_of(locale, accept) == expected
