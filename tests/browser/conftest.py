"""Browser fixtures: Debian's Chromium driven by Playwright, pages on real nodes.

`start_node` comes from tests/conftest.py. Chromium must be at /usr/bin/chromium
(or CHROMIUM_PATH); `playwright install` is never used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .pages import Tab

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests, closed when they are done: Playwright's
    sync API keeps an event loop running in this thread while it is open, which
    would break every asyncio test that pytest runs after it."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture
def open_tab(browser: Any) -> Iterator[Callable[..., Tab]]:
    """open_tab(url, width=1280, height=800, scheme="light") -> Tab (own browser context)."""
    contexts: list[Any] = []

    def _open(url: str | None = None, width: int = 1280, height: int = 800,
              scheme: str = "light", reduced_motion: str = "reduce") -> Tab:
        ctx = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme=scheme, reduced_motion=reduced_motion)
        contexts.append(ctx)
        ctx.add_init_script(CSP_WATCH)
        page = ctx.new_page()
        page.set_default_timeout(10_000)
        tab = Tab(page, ctx)
        page.on("console", lambda m: tab.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: tab.errors.append(str(e)))

        def on_dialog(d: Any) -> None:
            tab.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        if url:
            page.goto(url)
        return tab

    yield _open
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def node(start_node: Callable[..., Any]) -> Any:
    return start_node()


