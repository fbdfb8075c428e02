"""Which country's referral services to show, from a client's locale hints.

A person in crisis needs numbers that work where they are. The only hints we
have are the `locale` sent in `hello` and the HTTP `Accept-Language` header,
both untrusted and often sloppy ("pt_BR", "en_US.UTF-8", "en-UK"). These
functions are pure and never raise on client input: a hint that cannot be
read is skipped, and the operator's default (possibly "*", meaning "anywhere",
which selects the international fallback) is used.
"""

from __future__ import annotations

import re

__all__ = ["language_of", "parse_accept_language", "region_of_tag", "resolve_region"]

#: Header values beyond this are not worth parsing (and cap the work per request).
_MAX_HEADER_CHARS = 1024
_MAX_ITEMS = 32

_LANGUAGE = re.compile(r"[a-z]{2,3}")
_EXTLANG = re.compile(r"[a-z]{3}")
_SCRIPT = re.compile(r"[a-z]{4}")
_REGION_ALPHA = re.compile(r"[a-z]{2}")
_QVALUE = re.compile(r"q\s*=\s*([0-9](?:\.[0-9]{0,3})?)")

#: Codes seen in the wild that are not the ISO 3166-1 code of the country meant.
#: "UK" is exceptionally reserved by ISO for the United Kingdom, whose code is GB.
_REGION_ALIASES = {"UK": "GB"}


def _subtags(tag: str) -> list[str]:
    """Split a BCP 47 or POSIX locale ("en_US.UTF-8@euro") into lower-case subtags."""
    tag = tag.strip()
    for sep in (".", "@"):  # POSIX codeset and modifier
        tag = tag.split(sep, 1)[0]
    return [part for part in tag.replace("_", "-").lower().split("-") if part]


def _language(parts: list[str]) -> str | None:
    """The primary language subtag, or None for "*", "C", private-use and junk."""
    if parts and _LANGUAGE.fullmatch(parts[0]):
        return parts[0]
    return None


def region_of_tag(tag: str) -> str | None:
    """ISO 3166-1 alpha-2 region of one language tag, upper-case, or None.

    Language-only tags ("en"), UN M.49 numeric regions ("es-419", a continent,
    not a country) and unparseable tags give None so the caller tries the next
    source instead of guessing a country.
    """
    parts = _subtags(tag)
    if _language(parts) is None:
        return None
    rest = parts[1:]
    # Skip up to three extended-language subtags and an optional script.
    for _ in range(3):
        if rest and _EXTLANG.fullmatch(rest[0]):
            rest = rest[1:]
    if rest and _SCRIPT.fullmatch(rest[0]):
        rest = rest[1:]
    if not rest:
        return None
    if not _REGION_ALPHA.fullmatch(rest[0]):
        return None  # a variant, or a numeric M.49 area: no country
    code = rest[0].upper()
    return _REGION_ALIASES.get(code, code)


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, most preferred first.

    Ties keep header order; `q=0` ("not acceptable") and the wildcard are dropped.
    """
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header[:_MAX_HEADER_CHARS].split(",")[:_MAX_ITEMS]):
        tag, _, params = item.partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        match = _QVALUE.search(params)
        if match:
            quality = min(float(match.group(1)), 1.0)
        elif params.strip():
            continue  # malformed parameters: ignore the item rather than guess
        if quality <= 0.0:
            continue
        weighted.append((-quality, index, tag))
    weighted.sort()
    return [tag for _, _, tag in weighted]


def _normalize_default(default: str) -> str:
    """Validate the operator-supplied default: a config error should fail loudly."""
    code = default.strip().upper()
    code = _REGION_ALIASES.get(code, code)
    if code == "*" or (len(code) == 2 and code.isascii() and code.isalpha()):
        return code
    raise ValueError(f"default region {default!r} is not an ISO 3166-1 alpha-2 code or '*'")


def resolve_region(locale: str | None, accept_language: str | None, default: str) -> str:
    """Region for referral selection: `locale`, else Accept-Language, else `default`.

    Within Accept-Language the most preferred tag that names a country wins:
    "fr, en-US;q=0.8" gives "US". Returns an upper-case alpha-2 code, or "*"
    when `default` is "*". Raises ValueError only for an invalid `default`.
    """
    fallback = _normalize_default(default)
    if locale:
        region = region_of_tag(locale[:_MAX_HEADER_CHARS])
        if region:
            return region
    for tag in parse_accept_language(accept_language):
        region = region_of_tag(tag)
        if region:
            return region
    return fallback


def language_of(locale: str | None, accept_language: str | None) -> str:
    """Primary language subtag ("pt" for "pt_BR"), from locale then Accept-Language; "en"."""
    candidates = [locale[:_MAX_HEADER_CHARS]] if locale else []
    candidates += parse_accept_language(accept_language)
    for tag in candidates:
        language = _language(_subtags(tag))
        if language:
            return language
    return "en"
