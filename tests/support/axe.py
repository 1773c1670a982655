"""axe-core (npm, node_modules/axe-core) injected into the page: the accessibility scan of the browser tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

RUN = """async () => {
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').split('\\n')[1]),
    }));
}"""


# Colours are measured as painted: a dialog fading in or a button changing theme would be measured
# half-way. Wait for every finite animation and transition (spinners and the cursor run for ever).
SETTLED = """() => document.getAnimations().every(a => a.playState !== 'running'
    || a.effect?.getComputedTiming().iterations === Infinity)"""


async def violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical findings of axe-core's full rule set on the page once it has settled."""
    assert AXE.exists(), f"{AXE} is missing: run npm ci"
    await page.wait_for_function(SETTLED)
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(RUN)
    return [v for v in found if v["impact"] in BLOCKING]


async def assert_accessible(page: Page, state: str) -> None:
    found = await violations(page)
    assert found == [], f"axe-core, {state}: {json.dumps(found, indent=1)}"
