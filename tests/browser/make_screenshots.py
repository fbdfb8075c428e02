"""Screenshots of the chat page and the moderator console for the README.

    python -m tests.browser.make_screenshots [OUT_DIR]   (default: docs/screenshots)

Starts its own redis-server and `chatserver serve` node (like the tests do),
drives Debian's Chromium, and writes chat-360.png, chat-1280.png, mod-360.png
and mod-1280.png: viewport-sized PNGs, not full-page. Nothing is faked: the
supporter badge comes from a real account and the flags from the real detector.
`capture()` is also run by test_screenshots.py (into a temporary directory),
so this script keeps working as the pages change.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect, sync_playwright

from ..conftest import ROOT, Node, RedisProcess, free_port, wait_ready
from .conftest import CHROMIUM, CHROMIUM_ARGS
from .pages import join_as_guest, make_user, send

WIDTHS = {360: 780, 1280: 800}
MOD = ("mara", "screenshot-mod-password")
SUPPORTER = ("sage", "screenshot-supporter-password")
PEER = ("alder", "screenshot-peer-password")
CHAT = [
    ("alder", "rough day. my exam got moved and i couldn't sleep at all"),
    ("sage", "that sounds exhausting. do you want to talk about the exam or the sleep first?"),
    ("birch", "same here last week, it helped me to write the worries down before bed"),
    ("alder", "the sleep i think. thanks both, it helps to not be the only one"),
]
CRISIS = [
    ("fern", "i want to kill myself, i have the pills ready"),
    ("moss", "i started cutting myself again last night"),
]


def _context(browser: Any, width: int) -> Any:
    ctx = browser.new_context(viewport={"width": width, "height": WIDTHS[width]},
                              color_scheme="light", reduced_motion="reduce")
    # The first-visit note is dismissed, as for a returning visitor.
    ctx.add_init_script("localStorage.setItem('peerchat.introDismissed', '1');")
    ctx.new_page().set_default_timeout(15_000)
    return ctx


def _login_chat(page: Any, base: str, handle: str, password: str, room: str = "general") -> None:
    page.goto(base + "/")
    page.fill("#login-handle", handle)
    page.fill("#login-password", password)
    page.press("#login-password", "Enter")
    page.click(f'.room-card[data-slug="{room}"] .join-btn')
    expect(page.locator(f'.room-pane[data-room="{room}"] textarea')).to_be_visible()


def _msgs(page: Any, text: str) -> Any:
    return page.locator('.room-pane[data-room="general"] .messages li.msg[data-id]',
                        has=page.locator(".msg-text", has_text=text))


def capture(browser: Any, node: Any, out_dir: Path) -> list[Path]:
    """Populate a room and the moderator queue on `node`; write the four PNGs."""
    from .pages import Tab

    out_dir.mkdir(parents=True, exist_ok=True)
    make_user(node, *MOD)
    make_user(node, *SUPPORTER, role="supporter")
    make_user(node, *PEER, role="peer")
    contexts: list[Any] = []
    written: list[Path] = []
    try:
        # Writers (any width; they are not photographed).
        writers: dict[str, Any] = {}
        for handle in ("birch", "fern", "moss"):
            ctx = _context(browser, 1280)
            contexts.append(ctx)
            tab = Tab(ctx.pages[0], ctx)
            join_as_guest(tab, node.url, handle=handle)
            writers[handle] = tab.page
        sage = _context(browser, 1280)
        contexts.append(sage)
        _login_chat(sage.pages[0], node.url, *SUPPORTER)
        writers["sage"] = sage.pages[0]

        # Moderators on shift first, so the room shows its usual state.
        mods: dict[int, Any] = {}
        for width in WIDTHS:
            ctx = _context(browser, width)
            contexts.append(ctx)
            page = ctx.pages[0]
            page.goto(node.url + "/mod")
            page.fill("#login-handle", MOD[0])
            page.fill("#login-password", MOD[1])
            page.press("#login-password", "Enter")
            expect(page.locator("#console-view")).to_be_visible()
            mods[width] = page

        # The photographed peer: alder, one account logged in at each width, so
        # both views mark alder's messages as their own.
        alder: dict[int, Any] = {}
        for width in WIDTHS:
            ctx = _context(browser, width)
            contexts.append(ctx)
            _login_chat(ctx.pages[0], node.url, *PEER)
            alder[width] = ctx.pages[0]
        writers["alder"] = alder[1280]

        for handle, text in CHAT:
            page = writers[handle]
            box = page.locator('.room-pane[data-room="general"] textarea')
            box.fill(text)
            box.press("Enter")
            for width in WIDTHS:
                expect(_msgs(alder[width], text)).to_have_count(1)
        for width, page in alder.items():
            expect(page.locator(".msg .badge").first).to_be_visible()
            page.locator('.room-pane[data-room="general"] textarea').fill(
                "going to try the writing thing tonight")
            path = out_dir / f"chat-{width}.png"
            page.screenshot(path=str(path), full_page=False)
            written.append(path)

        for handle, text in CRISIS:
            send(Tab(writers[handle], None), "general", text)
        for width, page in mods.items():
            flags = page.locator(".queue .flag")
            for _, text in CRISIS:
                expect(flags.filter(has_text=text)).to_have_count(1, timeout=15_000)
            path = out_dir / f"mod-{width}.png"
            page.screenshot(path=str(path), full_page=False)
            written.append(path)
    finally:
        for ctx in contexts:
            ctx.close()
    return written


def _start_node(redis_url: str, workdir: Path) -> Node:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    env.update({
        "CHATSERVER_REDIS_URL": redis_url,
        "CHATSERVER_REDIS_PREFIX": "screenshots:",
        "CHATSERVER_SERVER_DATA_DIR": str(workdir / "data"),
        "CHATSERVER_AUTH_ARGON2_MEMORY_COST": "1024",
        "CHATSERVER_AUTH_ARGON2_TIME_COST": "1",
    })
    log_path = workdir / "node.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chatserver", "serve", "--config", str(ROOT / "config.toml"),
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=str(workdir), env=env, stdout=log, stderr=subprocess.STDOUT)
    node = Node(port, proc, env, log_path)
    try:
        wait_ready(node.url, proc)
    except RuntimeError:
        node.stop()
        raise RuntimeError(f"node failed to start:\n{node.log()}") from None
    return node


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    redis = RedisProcess(os.environ.get("CHATSERVER_TEST_REDIS", "external"))
    try:
        with tempfile.TemporaryDirectory(prefix="peerchat-shots-") as tmp:
            node = _start_node(redis.url, Path(tmp))
            try:
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
                    try:
                        for path in capture(browser, node, out_dir):
                            print(path)
                    finally:
                        browser.close()
            finally:
                node.stop()
    finally:
        redis.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
