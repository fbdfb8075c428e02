"""Pure parts of accounts: input checks, throttle scopes, proxies, CSRF (no I/O)."""

from __future__ import annotations

from chatserver.accounts import (
    age_band_error,
    handle_error,
    identity_from_fields,
    password_error,
    public_user,
    throttle_scopes,
)
from chatserver.http_accounts import bearer_token, csrf_refused
from chatserver.proxy import client_address


def test_handle_rules() -> None:
    for ok in ("abc", "A_b-9", "x" * 24):
        assert handle_error(ok) is None, ok
    for bad in ("ab", "x" * 25, "a b", "émile", "a.b", "", None, 5):
        assert handle_error(bad) is not None, bad


def test_password_and_age_band_rules() -> None:
    assert password_error("8chars!!") is None
    assert password_error("7chars!") is not None
    assert password_error("p" * 256) is None
    assert password_error("p" * 257) is not None
    assert password_error(12345678) is not None
    assert age_band_error("13-17") is None and age_band_error("18+") is None
    assert age_band_error("12") is not None and age_band_error(None) is not None


def test_throttle_scopes_are_case_insensitive() -> None:
    assert throttle_scopes("Robin", "10.0.0.1") == ["h:robin", "a:10.0.0.1"]
    assert throttle_scopes("Robin", None) == ["h:robin"]


def test_identity_from_fields_and_public_user_hide_secrets() -> None:
    fields = {"id": "u:1", "handle": "Robin", "role": "supporter", "age_band": "18+",
              "badges": "", "hash": "$argon2id$...", "created_at": "5"}
    ident = identity_from_fields(fields)
    assert ident is not None and ident.handle == "Robin" and "supporter" in ident.shown_badges
    assert "hash" not in public_user(fields)
    assert identity_from_fields({"id": "u:1", "handle": "x", "role": "wizard"}) is None


def test_client_address_trusts_only_configured_proxies() -> None:
    xff = {"x-forwarded-for": "203.0.113.9, 10.0.0.2"}
    assert client_address(("198.51.100.1", 1), xff, []) == "198.51.100.1"
    assert client_address(("10.0.0.1", 1), xff, ["10.0.0.1", "10.0.0.2"]) == "203.0.113.9"
    assert client_address(("10.0.0.1", 1), {"x-forwarded-for": "junk"}, ["10.0.0.1"]) == "10.0.0.1"
    assert client_address(None, {}, []) == "unknown"


def test_csrf_needs_cookie_state_change_and_foreign_origin() -> None:
    base = {"host": "chat.example", "cookie": "session=abc"}
    assert csrf_refused("POST", {**base, "origin": "https://evil.example"}, [])
    assert csrf_refused("DELETE", {**base, "origin": "null"}, [])
    assert not csrf_refused("POST", {**base, "origin": "https://chat.example"}, [])
    assert not csrf_refused("POST", {**base, "origin": "https://app.example"},
                            ["https://app.example"])
    assert not csrf_refused("GET", {**base, "origin": "https://evil.example"}, [])
    assert not csrf_refused("POST", {"host": "chat.example", "origin": "https://evil.example"},
                            [])


def test_bearer_token() -> None:
    assert bearer_token({"authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"authorization": "bearer  abc "}) == "abc"
    assert bearer_token({"authorization": "Basic abc"}) is None
    assert bearer_token({}) is None
