"""Fixtures for browser tests: a real demo server, an admin API client, Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import ADMIN_PASSWORD, chromium_path
from tests.server_process import ServerProcess

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@contextmanager
def demo_server(data_dir: Path, **env: str) -> Iterator[str]:
    """`labdeck demo` in a subprocess (instruments at 1/100 speed); yields its base URL."""
    chromium_path()  # skip (or fail under CI) before starting anything
    server = ServerProcess(["demo"], data_dir, admin_password=ADMIN_PASSWORD, env=env).start(
        timeout_s=30
    )
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api(server: str) -> Iterator[httpx.Client]:
    """An admin API client for the module's server (setup and checks the browser cannot do)."""
    token = httpx.post(
        f"{server}/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["token"]
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@contextmanager
def signed_in_page(browser: Browser, server: str, path: str) -> Iterator[Page]:
    """A page signed in as admin through the login form, on `path`; fails on JS errors."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}{path}")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}{path}")
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def shot(target: Page | Any, name: str, *, full_page: bool = False) -> None:
    """Save a screenshot for people to look at (test-artifacts/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if isinstance(target, Page):
        target.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)
    else:
        target.screenshot(path=str(SCREENSHOTS / name))
