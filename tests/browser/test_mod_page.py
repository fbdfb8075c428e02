"""Browser tests for the moderator console (/mod) against real nodes."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

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


CRISIS = "i want to kill myself, i have the pills ready"


def test_crisis_flag_hidden_from_console_disappears_for_room(node: Any, open_tab: Any) -> None:
    """Real detector, real UI: a crisis message is flagged live with its evidence
    marked, the moderator hides it with the console's button, and it leaves the
    room for everyone (writer, a watching peer, and the history of a late joiner)."""
    make_user(node, *MOD)
    m = open_tab()
    mod_login(m, node.url)
    expect(m.page.locator("#console-view")).to_be_visible()
    expect(m.page.locator("#queue-count")).to_be_visible()

    writer = open_tab(node.url + "/")
    watcher = open_tab(node.url + "/")
    join_as_guest(writer, node.url, handle="willow")
    join_as_guest(watcher, node.url, handle="rowan")

    def room_msgs(tab: Any, text: str) -> Any:
        return tab.page.locator('.room-pane[data-room="general"] .messages li.msg[data-id]',
                                has=tab.page.locator(".msg-text", has_text=text))

    send(writer, "general", "before the hard part")
    expect(room_msgs(watcher, "before the hard part")).to_have_count(1)
    send(writer, "general", CRISIS)
    for tab in (writer, watcher):
        expect(room_msgs(tab, CRISIS)).to_have_count(1)

    # The server flagged it: the live queue shows it, without a reload.
    flag = m.page.locator(".queue .flag", has=m.page.locator(".flag-text", has_text=CRISIS))
    expect(flag).to_have_count(1, timeout=15_000)
    expect(flag).to_be_visible()
    expect(flag.locator(".sev")).to_have_text(re.compile(r"^(high|imminent)$"))
    expect(flag).to_contain_text("Found by the detector")
    expect(flag).to_contain_text("willow")
    # Evidence is highlighted: at least one <mark>, each a piece of the message.
    marks = flag.locator(".flag-text mark")
    expect(marks.first).to_be_visible()
    marked = marks.all_inner_texts()
    assert marked and all(t and t in CRISIS for t in marked), marked
    assert any(re.search(r"kill|myself|pills", t) for t in marked), marked
    expect(flag.locator(".flag-text")).to_have_text(CRISIS)

    # Hide it with the console's own button (mod.hide).
    flag.get_by_role("button", name="Hide message", exact=True).click()
    expect(m.page.get_by_text("Message hidden.")).to_be_visible()

    # Gone for the watcher and for the writer; the rest of the room stays.
    for tab in (watcher, writer):
        expect(room_msgs(tab, CRISIS)).to_have_count(0, timeout=10_000)
        expect(room_msgs(tab, "before the hard part")).to_have_count(1)

    # History no longer returns it to someone who joins afterwards.
    late = open_tab(node.url + "/")
    join_as_guest(late, node.url, handle="hazel")
    expect(room_msgs(late, "before the hard part")).to_have_count(1)
    expect(room_msgs(late, CRISIS)).to_have_count(0)
    for tab in (m, writer, watcher, late):
        assert tab.errors == [], tab.errors


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
