"""Fixtures for the playground's browser tests: a running playground and a real Chromium page.

Chromium is Debian's (`/usr/bin/chromium`), driven by Playwright's Python package; nothing is
downloaded. Without chromium the tests are skipped with the reason — except under CI (`CI` set),
where they must run. A failing test leaves a screenshot under its tmp dir, named in the report.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest

from bot.playground.runner import Playground, choose_settings

CHROMIUM = os.environ.get("PLAYGROUND_TEST_CHROMIUM", "/usr/bin/chromium")


def _chromium_or_skip() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        found = None
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: install chromium and the dev extra")
        pytest.skip(
            "no chromium or playwright here (apt-get install chromium; pip install -e '.[dev]')"
        )
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
async def playground() -> AsyncIterator[Playground]:
    choice = choose_settings(port=0, agent_backend="demo", redis_url=None, log_level="WARNING")
    running = Playground(choice)
    await running.start()
    yield running
    await running.stop(grace=2)


@pytest.fixture
async def page(
    playground: Playground, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Any]:
    executable = _chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        tab = await browser.new_page(viewport={"width": 1280, "height": 860})
        tab.set_default_timeout(20_000)  # a deadline on a busy 2-core machine, not a pause
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        await tab.goto(f"{playground.url}/")
        yield tab
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            shot = tmp_path / "failure.png"
            await tab.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the page at the failure: {shot}")
        await browser.close()
    assert not errors, f"the page's script failed: {errors}"
