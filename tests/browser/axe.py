"""Locate axe-core (installed by `npm install --prefix tests/browser`) and run it in a page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def axe_path() -> Path | None:
    """axe.min.js from tests/browser/node_modules, or AXE_CORE_JS when set."""
    env = os.environ.get("AXE_CORE_JS")
    candidates = [Path(env)] if env else []
    candidates.append(HERE / "node_modules" / "axe-core" / "axe.min.js")
    for path in candidates:
        if path.is_file():
            return path
    return None


def run_axe(page: Any, context: str = "document") -> list[dict[str, Any]]:
    """Inject axe-core and return serious or critical violations (WCAG 2.x A/AA
    and best practice). The pages' CSP forbids inline scripts, so the source is
    evaluated through the DevTools protocol (page.evaluate), which CSP does not
    govern, rather than with page.add_script_tag."""
    path = axe_path()
    if path is None:
        raise FileNotFoundError("axe-core missing: run `npm install --prefix tests/browser`")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate("() => {\n" + path.read_text(encoding="utf-8") + "\n}")
    result = page.evaluate(
        """async (ctx) => {
            const target = ctx === "document" ? document : document.querySelector(ctx);
            const r = await window.axe.run(target, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                 "wcag22aa", "best-practice"]},
                resultTypes: ["violations"],
            });
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary),
            }));
        }""",
        context,
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
