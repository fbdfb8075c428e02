"""Browser tests for the moderator console (/mod) against real nodes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .axe import axe_path, run_axe
from .pages import (
    inject_frames,
    join_as_guest,
    make_user,
    no_horizontal_overflow,
    screenshot,
    send,
    wait_for_text,
)

MOD = ("modtest", "modtest-password")
PEER = ("peertest", "peertest-password")


def mod_login(tab: Any, base: str, creds: tuple[str, str] = MOD) -> None:
    page = tab.page
    if not page.url.startswith(base + "/mod"):
        page.goto(base + "/mod")
    page.fill("#login-handle", creds[0])
    page.fill("#login-password", creds[1])
    page.press("#login-password", "Enter")


def fake_flags(now_ms: int) -> list[dict[str, Any]]:
    def flag(fid: str, sev: str, age_s: int, text: str, evidence: list[dict[str, Any]],
             source: str = "detector") -> dict[str, Any]:
        return {
            "id": fid, "room": "general", "severity": sev, "source": source,
            "categories": ["self_harm_risk"], "evidence": evidence, "state": "open",
            "created_at": now_ms - age_s * 1000,
            "message": {"room": "general", "id": f"m-{fid}", "ts": now_ms - age_s * 1000,
                        "from": {"handle": f"user-{fid}", "role": "peer", "badges": []},
                        "text": text},
        }

    return [
        flag("low-old", "low", 900, "just a low one", []),
        flag("imm-new", "imminent", 10, "I took all my pills an hour ago",
             [{"start": 14, "end": 19, "category": "overdose_risk"}]),
        flag("high", "high", 300, "<img src=x onerror=alert(1)> cut", [
            {"start": 29, "end": 32, "category": "self_harm_risk"}]),
        flag("imm-old", "imminent", 600, "🏳️‍🌈 I want to end it", [
            {"start": 7, "end": 21, "category": "self_harm_risk"},
            {"start": 14, "end": 17, "category": "other"}]),
        flag("med", "medium", 100, "medium thing", [], source="report"),
    ]


def with_fake_queue(tab: Any) -> None:
    now = int(time.time() * 1000)

    def rewrite(frame: dict[str, Any]) -> None:
        if frame.get("type") == "reply" and isinstance(frame.get("flags"), list):
            frame["flags"] = frame["flags"] + fake_flags(now)

    inject_frames(tab.page, rewrite)


def test_non_moderator_sees_moderators_only(start_node: Any, open_tab: Any) -> None:
    node = start_node()
    make_user(node, *PEER, role="peer")
    a = open_tab(node.url + "/mod")
    mod_login(a, node.url, PEER)
    a.page.locator("#denied-view").wait_for()
    assert "Moderators only" in a.page.locator("#denied-title").inner_text()
    assert a.page.locator("#console-view").is_hidden()


def test_queue_sorted_marks_and_text_safety(node: Any, open_tab: Any) -> None:
    make_user(node, *MOD)
    a = open_tab()
    with_fake_queue(a)
    mod_login(a, node.url)
    a.page.locator(".flag[data-flag-id='med']").wait_for()
    order = a.page.eval_on_selector_all(".queue .flag", "els => els.map(e => e.dataset.flagId)")
    fake_order = [f for f in order if f in {"low-old", "imm-new", "high", "imm-old", "med"}]
    assert fake_order == ["imm-old", "imm-new", "high", "med", "low-old"]
    imm = a.page.locator(".flag[data-flag-id='imm-new']")
    assert imm.locator("mark").all_inner_texts() == ["pills"]
    assert imm.locator(".flag-text").inner_text() == "I took all my pills an hour ago"
    # Evidence offsets are code points: the flag emoji (4 code points) counts as 4.
    # Overlapping spans merge into one mark.
    assert a.page.locator(".flag[data-flag-id='imm-old'] mark").all_inner_texts() == [
        "want to end it"]
    high = a.page.locator(".flag[data-flag-id='high']")
    assert high.locator(".flag-text").inner_text().startswith("<img src=x onerror=alert(1)>")
    assert high.locator("mark").inner_text() == "cut"
    assert a.page.locator(".queue img").count() == 0
    assert a.dialogs == [] and a.errors == []
    screenshot(a, "mod-queue-1280")


def test_collapse_option_persists(node: Any, open_tab: Any) -> None:
    make_user(node, *MOD)
    a = open_tab()
    with_fake_queue(a)
    mod_login(a, node.url)
    flag = a.page.locator(".flag[data-flag-id='imm-new']")
    flag.wait_for()
    a.page.check("#collapse-text")
    assert flag.locator(".flag-text").is_hidden()
    toggle = flag.get_by_role("button", name="Show message")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert flag.locator(".flag-text").is_visible()
    a.page.reload()
    a.page.locator(".flag[data-flag-id='imm-new']").wait_for()
    assert a.page.is_checked("#collapse-text")
    assert a.page.locator(".flag[data-flag-id='imm-new'] .flag-text").is_hidden()


def test_report_claim_resolve_flow(node: Any, open_tab: Any) -> None:
    make_user(node, *MOD)
    m = open_tab()
    mod_login(m, node.url)
    m.page.locator("#queue-title").wait_for()
    m.page.locator("#queue-count").wait_for()

    writer = open_tab(node.url + "/")
    reader = open_tab(node.url + "/")
    join_as_guest(writer, node.url)
    join_as_guest(reader, node.url)
    send(writer, "general", "please look at this one")
    item = wait_for_text(reader, "general", "please look at this one").first
    item.locator(".msg-more").click()
    reader.page.select_option("#report-reason", "harassment or hate")
    reader.page.click("#report-btn")
    reader.page.locator(".notice", has_text="Moderators will look").wait_for()

    flag = m.page.locator(".flag", has_text="please look at this one").first
    flag.wait_for(timeout=15_000)
    flag.get_by_role("button", name="Claim").click()
    flag.get_by_role("button", name="Release").wait_for()
    assert "Claimed by you" in flag.inner_text()
    flag.locator("summary").click()
    flag.locator("select").select_option("no_action")
    flag.get_by_label("Resolution note (optional)").fill("checked, fine")
    flag.get_by_role("button", name="Resolve", exact=True).click()
    flag.wait_for(state="detached", timeout=10_000)


def test_break_nudge_after_configured_minutes(node: Any, open_tab: Any) -> None:
    make_user(node, *MOD)
    a = open_tab()
    a.context.add_init_script(
        "sessionStorage.setItem('peerchat.mod.shiftStart', String(Date.now() - 95 * 60000));")
    mod_login(a, node.url)
    nudge = a.page.locator("#break-nudge")
    nudge.wait_for()
    assert "break" in nudge.inner_text().lower()
    assert a.page.input_value("#break-minutes") == "90"


@pytest.mark.parametrize("width", [360, 1280])
def test_mod_no_horizontal_overflow(node: Any, open_tab: Any, width: int) -> None:
    make_user(node, *MOD)
    a = open_tab(width=width, scheme="dark" if width == 360 else "light")
    with_fake_queue(a)
    a.page.goto(node.url + "/mod")
    sw, iw = no_horizontal_overflow(a)
    assert sw <= iw
    mod_login(a, node.url)
    a.page.locator(".flag[data-flag-id='imm-new']").wait_for()
    a.page.locator(".flag[data-flag-id='imm-new'] summary").click()
    sw, iw = no_horizontal_overflow(a)
    screenshot(a, f"mod-{width}")
    assert sw <= iw, f"/mod is {sw}px wide at {iw}px"


def test_axe_mod_page(node: Any, open_tab: Any) -> None:
    if axe_path() is None:
        pytest.skip("axe-core not installed: npm install --prefix tests/browser")
    make_user(node, *MOD)
    for scheme in ("light", "dark"):
        a = open_tab(scheme=scheme)
        with_fake_queue(a)
        a.page.goto(node.url + "/mod")
        a.page.locator("#login-form").wait_for()
        assert run_axe(a.page) == [], f"login ({scheme})"
        mod_login(a, node.url)
        a.page.locator(".flag[data-flag-id='imm-new']").wait_for()
        a.page.locator(".flag[data-flag-id='imm-new'] summary").click()
        assert run_axe(a.page) == [], f"console ({scheme})"
