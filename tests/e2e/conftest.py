"""Browser fixtures: Debian's Chromium driven by Playwright, kept off the network, recording requests."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from avatar.core.settings import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Flags that keep Chromium from calling home (updates, sync, safe browsing lists, field trials).
OFFLINE_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-quic",
    "--no-sandbox",
    "--disable-gpu",
]


@pytest.fixture
def browser_page(request):
    if CHROMIUM is None:
        pytest.skip("no Chromium found (apt-get install chromium); the browser tests need it")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=OFFLINE_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.requested_urls = []  # type: ignore[attr-defined]
        page.on("request", lambda r: page.requested_urls.append(r.url))  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
                page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
            context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
