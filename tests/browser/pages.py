"""Helpers shared by the browser tests: page actions, WebSocket frame injection,
test accounts. Fixtures live in conftest.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", "/tmp"))


@dataclass
class Tab:
    """A page plus everything it logged, for asserting on errors and CSP reports."""

    page: Any
    context: Any
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[Any]:
        found: list[Any] = self.page.evaluate("window.__cspViolations || []")
        return found + [m for m in self.console if "Content Security Policy" in m]


# ---------------------------------------------------------------- page helpers

def join_as_guest(tab: Tab, base: str, room: str = "general", handle: str = "") -> str:
    """Open the chat, continue as guest, join `room`; returns the guest handle."""
    page = tab.page
    if not page.url.startswith(base):
        page.goto(base + "/")
    page.wait_for_selector("#guest-btn:visible")
    if handle:
        page.fill("#guest-handle", handle)
    page.click("#guest-btn")
    page.wait_for_selector(f'.room-card[data-slug="{room}"] .join-btn')
    page.click(f'.room-card[data-slug="{room}"] .join-btn')
    page.wait_for_selector(f'.room-pane[data-room="{room}"]:not([hidden]) textarea')
    who: str = page.locator("#whoami strong").inner_text()
    return who


def send(tab: Tab, room: str, text: str) -> None:
    box = tab.page.locator(f'.room-pane[data-room="{room}"] textarea')
    box.fill(text)
    box.press("Enter")


def message_items(tab: Tab, room: str) -> Any:
    return tab.page.locator(f'.room-pane[data-room="{room}"] .messages li.msg')


def message_ids(tab: Tab, room: str) -> list[str]:
    ids: list[str] = tab.page.eval_on_selector_all(
        f'.room-pane[data-room="{room}"] .messages li.msg[data-id]',
        "els => els.map(e => e.dataset.id)")
    return ids


def wait_for_text(tab: Tab, room: str, text: str, timeout: float = 10_000) -> Any:
    loc = tab.page.locator(f'.room-pane[data-room="{room}"] .messages li.msg[data-id]',
                           has=tab.page.locator(".msg-text", has_text=text))
    loc.first.wait_for(timeout=timeout)
    return loc


def no_horizontal_overflow(tab: Tab) -> tuple[int, int]:
    sw, iw = tab.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return int(sw), int(iw)


def screenshot(tab: Tab, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"peerchat-{name}.png"
    tab.page.screenshot(path=str(path), full_page=True)
    return path


# ---------------------------------------------------------------- moderator accounts

def make_user(node: Any, handle: str, password: str, role: str = "moderator",
              age_band: str = "18+") -> None:
    """Create an account with `chatserver users add` against the node's Redis.

    Nodes without an `env` (a development stub) are expected to have the
    account already."""
    env = getattr(node, "env", None)
    if env is None:
        return
    proc = subprocess.run(
        [sys.executable, "-m", "chatserver", "users", "add", handle, "--role", role,
         "--age-band", age_band],
        input=(password + "\n").encode(), env=env, capture_output=True, timeout=60,
        cwd=str(Path(getattr(node, "log_path", Path.cwd())).parent),
    )
    if proc.returncode != 0 and b"exist" not in proc.stderr.lower():
        pytest.fail(f"chatserver users add failed: {proc.stderr.decode(errors='replace')}")


# ---------------------------------------------------------------- WebSocket injection

def inject_frames(page: Any, rewrite: Callable[[dict[str, Any]], list[dict[str, Any]] | None]
                  ) -> dict[str, Any]:
    """Proxy the page's /ws through Playwright and let `rewrite` edit server frames.

    `rewrite(frame)` returns the frames to deliver instead (None: unchanged).
    Returns a handle whose "route" is the page-side WebSocketRoute, once open.
    """
    handle: dict[str, Any] = {"route": None}

    def on_ws(ws: Any) -> None:
        handle["route"] = ws
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if isinstance(message, bytes):
                ws.send(message)
                return
            try:
                frame = json.loads(message)
            except ValueError:
                ws.send(message)
                return
            out = rewrite(frame)
            for f in ([frame] if out is None else out):
                ws.send(json.dumps(f))

        server.on_message(from_server)

    page.route_web_socket(re.compile(r".*/ws$"), on_ws)
    return handle
