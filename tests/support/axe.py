"""axe-core in the browser tests: inject the pinned engine into the open page and run it.

The engine comes from npm, pinned with its integrity hash (tests/support/axe/package-lock.json;
`make axe`, which `make test` runs, installs it). Nothing is fetched by the page: the script is read
here and handed to the browser with the WebDriver, so the page's Content-Security-Policy does not
apply to it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# WCAG 2.0, 2.1 and 2.2 A and AA, plus axe's best practices (landmarks, headings, ...).
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")


@dataclass(frozen=True)
class Violation:
    """One axe rule the page breaks, and where."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.impact}: {self.rule} ({self.help}) at {', '.join(self.targets)}"


def installed_version() -> str | None:
    """The installed axe-core's version, or None when `make axe` has not run."""
    package = AXE_SCRIPT.parent / "package.json"
    if not AXE_SCRIPT.is_file() or not package.is_file():
        return None
    return json.loads(package.read_text())["version"]


def locked_version() -> str:
    """The version package-lock.json pins."""
    lock = json.loads((AXE_DIR / "package-lock.json").read_text())
    return lock["packages"]["node_modules/axe-core"]["version"]


# Resolves once two animation frames have passed with no finite animation or transition running
# (infinite ones, such as a spinner, never end and are left alone); gives up after 40 rounds.
SETTLE_SCRIPT = """
const done = arguments[arguments.length - 1];
const frame = () => new Promise(resolve => requestAnimationFrame(() => resolve()));
const finite = animation => animation.playState === "running" && animation.effect
    && animation.effect.getComputedTiming().endTime !== Infinity;
(async () => {
    for (let round = 0; round < 40; round++) {
        await frame();
        await frame();
        const running = document.getAnimations().filter(finite);
        if (!running.length) return done(true);
        await Promise.all(running.map(animation => animation.finished.catch(() => null)));
    }
    done(false);
})();
"""


def wait_for_animations(driver: Any, timeout: float = 10) -> bool:
    """Wait until the page's transitions have ended. axe measures what is painted now: a Bootstrap
    alert fading in (opacity 0 to 1 over 150 ms) has too little contrast half-way (CI, stop 35)."""
    driver.set_script_timeout(timeout)
    return bool(driver.execute_async_script(SETTLE_SCRIPT))


def run_axe(driver: Any, context: str | None = None, timeout: float = 30) -> list[Violation]:
    """Every violation axe finds in the page open in `driver` (or in the `context` selector),
    once its transitions have ended."""
    if not wait_for_animations(driver):
        logger.warning("axe runs while an animation is still running")
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE_SCRIPT.read_text(encoding="utf-8"))
    driver.set_script_timeout(timeout)
    result = driver.execute_async_script(
        """
        const [context, tags, done] = arguments;
        axe.run(context || document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
            .then(results => done({violations: results.violations}))
            .catch(error => done({error: String(error)}));
        """,
        context,
        list(TAGS),
    )
    if "error" in result:
        raise RuntimeError(f"axe-core failed: {result['error']}")
    return [
        Violation(
            rule=item["id"],
            impact=item.get("impact") or "minor",
            help=item["help"],
            targets=tuple(" ".join(node["target"]) for node in item["nodes"]),
        )
        for item in result["violations"]
    ]


def blocking(violations: list[Violation]) -> list[Violation]:
    """The serious and critical ones: none may remain."""
    return [violation for violation in violations if violation.impact in BLOCKING]


def describe(violations: list[Violation]) -> str:
    """One line per violation, for a failure message."""
    return "\n".join(str(violation) for violation in violations) or "none"


def assert_accessible(
    driver: Any, state: str, documented_minor: frozenset[str] = frozenset()
) -> list[Violation]:
    """axe finds nothing serious or critical in the open page, and no minor violation outside
    `documented_minor` (the rules docs/web.md lists with the reason they stay)."""
    violations = run_axe(driver)
    logger.info("axe, %s: %s", state, describe(violations))
    assert not blocking(violations), f"{state}:\n{describe(blocking(violations))}"
    undocumented = [item for item in violations if item.rule not in documented_minor]
    assert not undocumented, f"{state}, not listed in docs/web.md:\n{describe(undocumented)}"
    return violations
