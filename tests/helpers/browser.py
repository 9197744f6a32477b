"""Headless Chromium for the browser tests: from the Debian packages (scripts/chromium.sh finds or installs it),
driven by Playwright's Python package with `executable_path`, so Playwright downloads no browser."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium() -> str:
    found = subprocess.run([str(ROOT / "scripts" / "chromium.sh")], capture_output=True, text=True)
    if found.returncode != 0:
        pytest.skip(f"no Chromium for the browser test: {found.stderr.strip()}")
    return found.stdout.strip()


@pytest.fixture
def page(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        context.set_default_timeout(60_000)
        yield context.new_page()
        browser.close()


def screenshot(page, folder: Path, step: str) -> Path:
    """The whole page as `folder`/`step`.png."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{step}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
