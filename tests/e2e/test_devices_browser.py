"""The Devices page in a real browser against a real `labdeck demo` server.

Starts `python -m labdeck.cli demo` on a free port, signs in through the login form with
Debian's chromium (Playwright), runs every callable demo method and function through its
generated form, and saves screenshots to test-artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import ADMIN_PASSWORD
from tests.e2e.conftest import demo_server, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Calls that fail on purpose in the demo (faults.py), with the error code each one reports.
EXPECTED_FAILURES = {
    "broken_pump.prime": {"UNHANDLED_EXCEPTION"},
    "broken_pump.pump": {"PRESSURE_HIGH"},
    "broken_pump.reconnect": {"CONNECTION"},
}
# A loose connector: `read` fails at random with a retryable CONNECTION error.
MAY_FAIL = {"flaky_sensor.read": {"CONNECTION"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real demo server; busy answers come quickly (the stuck valve gives up after 6 s)."""
    with demo_server(
        tmp_path_factory.mktemp("labdeck-demo"), LABDECK_CALL_LOCK_WAIT_S="0.5"
    ) as base:
        yield base


@pytest.fixture(scope="module")
def signed_in(browser: Browser, server: str) -> Iterator[BrowserContext]:
    """A browser context signed in as admin through the login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/devices")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/devices")
    page.close()
    yield context
    context.close()


@pytest.fixture
def page(signed_in: BrowserContext, server: str) -> Iterator[Page]:
    page = signed_in.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}/devices")
    yield page
    page.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


# --- helpers to fill a form from the schema -------------------------------------------------


def _value_for(schema: dict[str, Any]) -> str | None:
    """A sensible value for a required field without a default, from its JSON Schema."""
    if "enum" in schema:
        return None  # the first option is picked instead
    low, high = schema.get("minimum"), schema.get("maximum")
    low_x = schema.get("exclusiveMinimum")
    if low is not None:
        return str(low)
    if low_x is not None:
        top = high if high is not None else low_x + 2
        middle = (low_x + top) / 2
        return str(int(middle)) if schema.get("type") == "integer" else str(middle)
    if high is not None:
        return str(high)
    return "1"


def fill_required(page: Page, form_id: str, method: dict[str, Any]) -> None:
    schema = method["params_schema"]
    for name in schema.get("required", []):
        field = schema["properties"][name]
        if "default" in field:
            continue
        selector = f"#{form_id}-{name}"
        if "enum" in field:
            page.select_option(selector, index=1)  # index 0 is "— choose —"
        else:
            value = _value_for(field)
            assert value is not None
            page.fill(selector, value)


def run_form(page: Page, form_id: str, method: dict[str, Any] | None = None) -> Any:
    """Open a method, fill its required fields, press Run; returns the result box."""
    block = page.locator(f"#{form_id}-block")
    if block.get_attribute("open") is None:
        block.locator("summary").click()
    if method is not None:
        fill_required(page, form_id, method)
    page.locator(f"#{form_id} button[type=submit]").first.click()
    result = page.locator(f"#{form_id}-result .result")
    expect(result).to_be_visible()
    return result


# --- tests -----------------------------------------------------------------------------------


def test_login_page(browser: Browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{server}/devices")
    expect(page).to_have_url(f"{server}/login?next=/devices")
    shot(page, "login.png")
    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator(".alert-error")).to_have_text("Wrong username or password.")
    shot(page, "login-error.png")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server}/devices")
    expect(page.locator(".who")).to_contain_text("admin")
    page.click("text=Sign out")
    expect(page).to_have_url(f"{server}/login")
    context.close()


def test_devices_page_shows_every_instrument(page: Page, api: httpx.Client) -> None:
    deck = api.get("/api/deck").json()
    for name in deck["instruments"]:
        expect(page.locator(f"#instrument-{name}")).to_be_visible()
    expect(page.locator("#deck-functions")).to_be_visible()
    # The demo lab's Camera plugin has its entry after the built-in pages.
    expect(page.locator(".mainnav a")).to_have_text(
        ["Devices", "Design", "Execute", "Data", "Camera"]
    )
    expect(page.locator("#p-hotplate-temperature-current .value")).to_have_text("20.0")
    shot(page, "devices.png", full_page=True)


def test_every_callable_method_runs_from_its_form(page: Page, api: httpx.Client) -> None:
    deck = api.get("/api/deck").json()
    # `stuck_valve.open` hangs until someone calls `release`; a release with nothing hanging
    # lets the next `open` through at once, so the browser calls `release` before `open`.
    order = {
        "plate_reader": {"setup": 0, "stop": 2},  # setup first, stop last (PyLabRobot style)
        "stuck_valve": {"release": 0},
    }
    targets: list[tuple[str, str, dict[str, Any]]] = []
    for instrument, body in deck["instruments"].items():
        methods = list(body["methods"].items())
        ranks = order.get(instrument, {})
        methods.sort(key=lambda item: ranks.get(item[0], 1))
        targets += [(f"m-{instrument}-{m}", f"{instrument}.{m}", s) for m, s in methods]
    targets += [(f"f-{name}", name, s) for name, s in deck["functions"].items()]

    outcomes: dict[str, str] = {}
    for form_id, target, method in targets:
        if not method["callable"]:
            expect(page.locator(f"#{form_id}-block .unavailable-reason")).to_be_visible()
            continue
        result = run_form(page, form_id, method)
        classes = result.get_attribute("class") or ""
        if "result-completed" in classes:
            outcomes[target] = "completed"
            continue
        code = result.locator(".error-code").inner_text() if "result-failed" in classes else ""
        allowed = EXPECTED_FAILURES.get(target, set()) | MAY_FAIL.get(target, set())
        assert code in allowed, f"{target}: {result.inner_text()}"
        outcomes[target] = code
    for target, codes in EXPECTED_FAILURES.items():
        assert outcomes[target] in codes
    assert outcomes["plate_reader.read_absorbance"] == "completed"
    assert outcomes["stuck_valve.open"] == "completed"
    assert len(outcomes) >= 30
    shot(page.locator("#deck-functions"), "function-result.png")
    recent = page.locator("#recent-calls")
    expect(recent).to_contain_text("reset_bench")
    expect(recent).to_contain_text("prepare_sample")


def test_result_and_error_are_shown_inline(page: Page) -> None:
    result = run_form(page, "m-spectrometer-measure")
    expect(result).to_contain_text("completed")
    expect(result.locator(".output")).to_have_text(re.compile(r"^\[[-0-9.]+, [0-9.]+\]$"))
    shot(page.locator("#instrument-spectrometer"), "result.png")
    page.locator("#m-broken_pump-pump-block summary").click()
    page.fill("#m-broken_pump-pump-volume_ml", "2")
    error = run_form(page, "m-broken_pump-pump")
    expect(error.locator(".error-code")).to_have_text("PRESSURE_HIGH")
    expect(error).to_contain_text("line pressure above 4 bar")
    expect(error).to_contain_text("Trying again will not help")
    expect(error.locator("details.traceback")).not_to_have_attribute("open", "")
    shot(page.locator("#instrument-broken_pump"), "error.png")


def test_busy_deck_and_admin_force(page: Page, api: httpx.Client) -> None:
    """While a call hangs, others get a clear busy message; an admin can force a release."""
    outcome: dict[str, Any] = {}

    def open_stuck_valve() -> None:
        with httpx.Client(base_url=str(api.base_url), headers=api.headers) as client:
            outcome["open"] = client.post(
                "/api/instruments/stuck_valve/open", json={"args": {}}, timeout=60
            ).json()

    hanging = threading.Thread(target=open_stuck_valve)
    hanging.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            [latest] = api.get("/api/calls", params={"limit": 1}).json()["items"]
            if latest["target"] == "stuck_valve.open" and latest["status"] == "running":
                break
            time.sleep(0.05)
        else:
            pytest.fail("stuck_valve.open did not start hanging")
        busy = run_form(page, "m-balance-tare")
        expect(busy).to_have_class(re.compile(r"\bresult-busy\b"))
        expect(busy).to_contain_text("The deck is busy with stuck_valve.open")
        expect(busy).to_contain_text("try again when it finishes")
        shot(page.locator("#instrument-balance"), "busy.png")
        release = run_form(page, "m-stuck_valve-release")
        expect(release).to_contain_text("The deck is busy")
        shot(page.locator("#instrument-stuck_valve"), "busy-force.png")
        release.get_by_role("button", name="Run anyway (admin force)").click()
        expect(page.locator("#m-stuck_valve-release-result .result-completed")).to_be_visible()
    finally:
        if hanging.is_alive():
            api.post("/api/instruments/stuck_valve/release", json={"args": {}, "force": True})
        hanging.join(timeout=30)
    assert outcome["open"]["status"] == "completed"
    expect(page.locator("#recent-calls")).to_contain_text("forced")


def test_validation_errors_appear_next_to_fields(page: Page) -> None:
    block = page.locator("#m-balance-dose_solid-block")
    block.locator("summary").click()
    page.fill("#m-balance-dose_solid-amount_mg", "0")
    page.locator("#m-balance-dose_solid button[type=submit]").click()
    message = page.locator("#m-balance-dose_solid-amount_mg-error")
    expect(message).to_contain_text("greater than 0")
    expect(page.locator("#m-balance-dose_solid-result")).to_contain_text("Nothing was run")
    # Invalid JSON is caught in the browser before anything is sent.
    page.locator("#m-plate_reader-read_absorbance-block summary").click()
    wells = page.locator("#m-plate_reader-read_absorbance-wells")
    wells.fill('["A1", ')
    expect(page.locator("#m-plate_reader-read_absorbance .json-error")).to_contain_text(
        "not valid JSON"
    )
    page.locator("#m-plate_reader-read_absorbance button[type=submit]").click()
    expect(page.locator("#m-plate_reader-read_absorbance-result .result")).to_have_count(0)
    shot(page.locator("#instrument-balance"), "validation.png")
    shot(page.locator("#instrument-plate_reader"), "json-validation.png")
    # Fixing the value clears the message.
    page.fill("#m-balance-dose_solid-amount_mg", "5")
    page.locator("#m-balance-dose_solid button[type=submit]").click()
    expect(page.locator("#m-balance-dose_solid-result .result-completed")).to_be_visible()
    expect(message).to_be_empty()


def test_property_can_be_changed(page: Page) -> None:
    prop = page.locator("#p-flaky_sensor-failure_rate")
    prop.locator(".property-edit summary").click()
    page.fill("#p-flaky_sensor-failure_rate-value", "0.5")
    prop.locator("button[type=submit]").click()
    expect(prop.locator(".result-completed")).to_be_visible()
    expect(page.locator("#p-flaky_sensor-failure_rate-current")).to_have_text("0.5")
    shot(page.locator("#instrument-flaky_sensor"), "property.png")


def test_search_filters_as_you_type(page: Page) -> None:
    search = page.locator("#device-search")
    search.fill("stalled")
    expect(page.locator("#instrument-broken_pump")).to_be_visible()
    expect(page.locator("#instrument-dispenser")).to_be_hidden()
    expect(page.locator("#m-broken_pump-prime-block")).to_be_visible()
    expect(page.locator("#m-broken_pump-pump-block")).to_be_hidden()
    search.fill("plate_reader")
    expect(page.locator("#instrument-plate_reader")).to_be_visible()
    expect(page.locator(".card.instrument:visible")).to_have_count(1)
    shot(page, "search.png")
    search.fill("no such thing anywhere")
    expect(page.locator("#search-empty")).to_be_visible()
    search.fill("")
    expect(page.locator("#instrument-dispenser")).to_be_visible()


def test_narrow_laptop_layout(signed_in: BrowserContext, server: str) -> None:
    page = signed_in.new_page()
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{server}/devices")
    expect(page.locator("#instrument-dispenser")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024, "nothing should scroll sideways"
    shot(page, "devices-1024.png")
    page.close()
