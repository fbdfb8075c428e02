"""Keeps tests/browser/make_screenshots.py working: the same capture, into tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .make_screenshots import capture


def test_make_screenshots_capture(browser: Any, node: Any, tmp_path: Path) -> None:
    written = capture(browser, node, tmp_path / "shots")
    names = sorted(p.name for p in written)
    assert names == ["chat-1280.png", "chat-360.png", "mod-1280.png", "mod-360.png"]
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, path
