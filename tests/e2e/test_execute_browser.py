"""The Execute page in a real browser against a real `labdeck demo` server.

Journeys: a repeat run to completion; a table run from an uploaded CSV file; pause then
resume during a wait; stop pending and stop current; an error answered with retry; an input
step answered in the page. Workflows are created and published through the API (the Design
page has its own tests). Screenshots go to test-artifacts/screenshots/execute-*.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import demo_server, shot, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CURRENT = re.compile(r"\bis-current\b")

DOSE: dict[str, Any] = {
    "format": "labdeck.workflow/1",
    "name": "dose and read",
    "parameters": [{"name": "amount_mg", "default": 5.0}],
    "outputs": ["mass"],
    "prep": [{"id": "tare", "kind": "call", "target": "balance.tare"}],
    "script": [
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "amount_mg"}},
            "save": "mass",
        },
        {"id": "note", "kind": "comment", "text": "dosed {mass} mg"},
    ],
    "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
}
SETTLE: dict[str, Any] = {
    "format": "labdeck.workflow/1",
    "name": "stir and settle",
    "script": [
        {"id": "stir", "kind": "call", "target": "hotplate.stir", "args": {"rpm": 300}},
        {"id": "settle", "kind": "wait", "seconds": 2},
        {"id": "note", "kind": "comment", "text": "settled"},
    ],
    "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
}
READ_SENSOR: dict[str, Any] = {
    "format": "labdeck.workflow/1",
    "name": "read the thermocouple",
    "outputs": ["celsius"],
    "script": [
        {"id": "read", "kind": "call", "target": "flaky_sensor.read", "save": "celsius"},
        {"id": "note", "kind": "comment", "text": "vial at {celsius} °C"},
    ],
}
ASK: dict[str, Any] = {
    "format": "labdeck.workflow/1",
    "name": "ask the chemist",
    "outputs": ["ml"],
    "script": [
        {
            "id": "ask",
            "kind": "input",
            "prompt": "How many mL of solvent did you add?",
            "save": "ml",
            "type": "number",
        },
        {"id": "note", "kind": "comment", "text": "operator added {ml} mL"},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(tmp_path_factory.mktemp("labdeck-execute")) as base:
        yield base


@pytest.fixture(scope="module")
def workflows(api: httpx.Client) -> dict[str, str]:
    ids = {}
    for document in (DOSE, SETTLE, READ_SENSOR, ASK):
        created = api.post("/api/workflows", json=document)
        assert created.status_code == 201, created.text
        assert api.post(f"/api/workflows/{created.json()['id']}/publish").status_code == 201
        ids[document["name"]] = created.json()["id"]
    return ids


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    with signed_in_page(browser, server, "/execute") as signed_in:
        yield signed_in


def open_workflow(page: Page, server: str, workflow_id: str) -> None:
    page.goto(f"{server}/execute?workflow={workflow_id}")
    expect(page.locator("#live-state")).to_have_text("Live")


def submit(page: Page) -> str:
    page.click("#submit-run")
    page.wait_for_url("**/execute/runs/*")
    expect(page.locator("#live-state")).to_have_text("Live")
    return page.url.split("/execute/runs/")[1].split("?")[0]


def status(page: Page) -> Any:
    return page.locator("#run-status")


def wait_status(api: httpx.Client, run_id: str, wanted: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while api.get(f"/api/runs/{run_id}").json()["status"] != wanted:
        assert time.monotonic() < deadline, f"run {run_id} never became {wanted}"
        time.sleep(0.05)


def test_a_repeat_run_to_completion(
    page: Page, server: str, api: httpx.Client, workflows: dict[str, str]
) -> None:
    open_workflow(page, server, workflows["stir and settle"])
    expect(page.locator("#repeat-count")).to_be_visible()
    page.fill("#repeat-count", "1")
    page.fill("#run-name", "settle check")
    shot(page, "execute-setup-repeat.png", full_page=True)
    run_id = submit(page)
    expect(page.locator("#run-name-text")).to_have_text("settle check")
    expect(page.locator('.outline-step[data-path="settle"]')).to_have_class(CURRENT, timeout=10_000)
    expect(status(page)).to_have_text("waiting")
    shot(page, "execute-run-waiting.png", full_page=True)
    expect(status(page)).to_have_text("completed", timeout=15_000)
    expect(page.locator("#run-log")).to_contain_text("settled")
    expect(page.locator("#run-progress-text")).to_have_text("Iteration 1 of 1")
    # A finished run offers exactly one thing: run it again (a replay, never in place).
    expect(page.locator("#run-controls button")).to_have_count(1)
    assert api.get(f"/api/runs/{run_id}").json()["status"] == "completed"
    shot(page, "execute-run-completed.png", full_page=True)

    page.click("#btn-replay")
    page.wait_for_url(lambda url: "/execute/runs/" in url and f"/runs/{run_id}" not in url)
    replay_id = page.url.split("/execute/runs/")[1].split("?")[0]
    expect(status(page)).to_have_text("completed", timeout=15_000)
    replay = api.get(f"/api/runs/{replay_id}").json()
    assert replay["replay_of"] == run_id
    assert replay["trigger"]["kind"] == "replay"
    assert replay["version"] == api.get(f"/api/runs/{run_id}").json()["version"]
    shot(page, "execute-run-replayed.png", full_page=True)


def test_a_table_run_from_an_uploaded_csv(
    page: Page, server: str, api: httpx.Client, workflows: dict[str, str], tmp_path: Path
) -> None:
    open_workflow(page, server, workflows["dose and read"])
    rows = page.locator("#param-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("input")).to_have_value("5")
    template = api.get(f"/execute/{workflows['dose and read']}/template.csv")
    assert template.text.splitlines()[0] == "amount_mg"
    csv_file = tmp_path / "doses.csv"
    csv_file.write_text("amount_mg\n2.5\n4\n6.5\n")
    page.set_input_files("#csv-file", str(csv_file))
    expect(rows).to_have_count(3)
    expect(rows.nth(2).locator("input")).to_have_value("6.5")
    page.click("#add-row")
    expect(rows).to_have_count(4)
    rows.nth(3).locator("input").fill("lots")
    page.click("#submit-run")
    expect(page.locator("#submit-problems")).to_contain_text("row 4")
    expect(rows.nth(3).locator("input")).to_have_class(re.compile(r"\bis-invalid\b"))
    shot(page, "execute-setup-table-problem.png", full_page=True)
    rows.nth(3).locator(".remove-row").click()
    run_id = submit(page)
    expect(status(page)).to_have_text("completed", timeout=15_000)
    expect(page.locator("#run-progress-text")).to_have_text("Iteration 3 of 3")
    samples = api.get(f"/api/runs/{run_id}/steps").json()["samples"]
    assert [s["params"]["amount_mg"] for s in samples] == [2.5, 4.0, 6.5]
    expect(page.locator("#run-log li")).to_have_count(3)
    shot(page, "execute-run-table-completed.png", full_page=True)


def test_pause_then_resume_during_a_wait(
    page: Page, server: str, api: httpx.Client, workflows: dict[str, str]
) -> None:
    open_workflow(page, server, workflows["stir and settle"])
    run_id = submit(page)
    expect(status(page)).to_have_text("waiting")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(status(page)).to_have_text("paused")
    expect(page.locator("#run-reason")).to_contain_text("Paused by an operator")
    expect(page.get_by_role("button", name="Pause", exact=True)).to_have_count(0)
    shot(page, "execute-run-paused.png", full_page=True)
    time.sleep(2.2)  # longer than the wait: a paused wait does not run out
    assert api.get(f"/api/runs/{run_id}").json()["status"] == "paused"
    page.get_by_role("button", name="Resume").click()
    expect(status(page)).to_have_text("completed", timeout=15_000)


@pytest.mark.parametrize("cleanup", [True, False])
def test_stop_pending_with_and_without_cleanup(
    page: Page, server: str, api: httpx.Client, workflows: dict[str, str], cleanup: bool
) -> None:
    open_workflow(page, server, workflows["stir and settle"])
    page.fill("#repeat-count", "4")
    run_id = submit(page)
    expect(status(page)).to_have_text("waiting")
    page.locator("summary", has_text="Stop after this iteration").click()
    box = page.locator("#opt-pending-cleanup")
    expect(box).to_be_checked()
    if not cleanup:
        box.uncheck()
    shot(page, "execute-stop-pending.png", full_page=True)
    page.get_by_role("button", name="Stop pending iterations").click()
    expect(status(page)).to_have_text("cancelled", timeout=15_000)
    expect(page.locator("#run-reason")).to_contain_text("Stopped after iteration 1 of 4")
    recorded = api.get(f"/api/runs/{run_id}/steps").json()["steps"]
    assert any(s["phase"] == "cleanup" for s in recorded) is cleanup
    assert {s["iteration"] for s in recorded if s["phase"] == "script"} == {1}


def test_stop_current_with_a_reason(
    page: Page, server: str, api: httpx.Client, workflows: dict[str, str]
) -> None:
    open_workflow(page, server, workflows["stir and settle"])
    page.fill("#repeat-count", "3")
    run_id = submit(page)
    expect(status(page)).to_have_text("waiting")
    page.locator("summary", has_text="Stop now").click()
    page.fill("#stop-reason", "wrong vial")
    page.check("#opt-current-cleanup")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop current run").click()
    expect(status(page)).to_have_text("cancelled", timeout=15_000)
    expect(page.locator("#run-reason")).to_have_text("Wrong vial")
    recorded = api.get(f"/api/runs/{run_id}/steps").json()["steps"]
    assert [s["path"] for s in recorded if s["phase"] == "cleanup"] == ["off"]
    shot(page, "execute-run-cancelled.png", full_page=True)


def test_an_error_then_retry_succeeds(
    page: Page, server: str, api: httpx.Client, workflows: dict[str, str]
) -> None:
    rate = "/api/instruments/flaky_sensor/properties/failure_rate"
    assert api.put(rate, json={"value": 1.0}).status_code == 200
    try:
        open_workflow(page, server, workflows["read the thermocouple"])
        run_id = submit(page)
        expect(status(page)).to_have_text("paused")
        prompt = page.locator("#run-prompt")
        expect(prompt).to_contain_text("Step “read” failed")
        expect(prompt).to_contain_text("sensor timed out")
        expect(page.locator('.outline-step[data-path="read"]')).to_have_class(
            re.compile(r"\bst-failed\b.*\bis-current\b")
        )
        shot(page, "execute-run-error.png", full_page=True)
        # the paused run holds the deck: an admin forces the repair through
        assert api.put(rate, json={"value": 0.0, "force": True}).status_code == 200
        page.get_by_role("button", name="Retry the step").click()
        expect(status(page)).to_have_text("completed", timeout=15_000)
        expect(prompt).to_be_hidden()
        attempts = [
            s["status"]
            for s in api.get(f"/api/runs/{run_id}/steps").json()["steps"]
            if s["path"] == "read"
        ]
        assert attempts == ["failed", "completed"]
        expect(page.locator("#run-log")).to_contain_text("vial at")
    finally:
        api.put(rate, json={"value": 0.0, "force": True})


def test_an_input_step_answered_in_the_page(
    page: Page, server: str, api: httpx.Client, workflows: dict[str, str]
) -> None:
    open_workflow(page, server, workflows["ask the chemist"])
    run_id = submit(page)
    prompt = page.locator("#run-prompt")
    expect(prompt).to_contain_text("How many mL of solvent did you add?")
    page.fill("#answer-value", "lots")
    page.get_by_role("button", name="Send answer").click()
    expect(prompt.locator(".field-error")).to_contain_text("number")
    shot(page, "execute-run-input.png", full_page=True)
    page.fill("#answer-value", "2.5")
    page.get_by_role("button", name="Send answer").click()
    expect(status(page)).to_have_text("completed", timeout=15_000)
    expect(page.locator("#run-log")).to_contain_text("operator added 2.5 mL")
    samples = api.get(f"/api/runs/{run_id}/steps").json()["samples"]
    assert samples[0]["outputs"] == {"ml": 2.5}


def test_the_queue_reorders_renames_removes_and_pauses_in_two_tabs(
    page: Page, browser: Browser, server: str, api: httpx.Client, workflows: dict[str, str]
) -> None:
    api.post("/api/queue/pause")
    try:
        ids = [
            api.post(
                "/api/runs",
                json={"workflow": workflows["dose and read"], "name": f"batch {n}"},
            ).json()["id"]
            for n in (1, 2, 3)
        ]
        page.goto(f"{server}/execute")
        other = page.context.new_page()
        other.goto(f"{server}/execute")
        for tab in (page, other):
            expect(tab.locator("#live-state")).to_have_text("Live")
            expect(tab.locator("#queue-paused")).to_contain_text("paused by an operator")
            expect(tab.locator("#queue-pending .queue-item")).to_have_count(3)
        shot(page, "execute-queue.png", full_page=True)
        items = page.locator("#queue-pending .queue-item")
        source = items.nth(2).locator(".drag-handle").bounding_box()
        target = items.nth(0).bounding_box()
        assert source is not None
        assert target is not None
        page.mouse.move(source["x"] + 4, source["y"] + source["height"] / 2)
        page.mouse.down()
        page.mouse.move(source["x"] + 8, source["y"] - 4, steps=3)
        page.mouse.move(target["x"] + 20, target["y"] + 4, steps=10)
        page.mouse.up()
        expect(other.locator("#queue-pending .queue-item").first).to_contain_text("batch 3")
        pending = [r["id"] for r in api.get("/api/queue").json()["pending"]]
        assert pending == [ids[2], ids[0], ids[1]]
        first = page.locator("#queue-pending .queue-item").first
        first.get_by_role("button", name="Rename").click()
        page.fill(".rename-input", "batch three")
        page.keyboard.press("Enter")
        # RunService.rename publishes no event yet: the other tab learns it with the next one
        expect(page.locator("#queue-pending")).to_contain_text("batch three")
        assert api.get(f"/api/runs/{ids[2]}").json()["name"] == "batch three"
        page.once("dialog", lambda dialog: dialog.accept())
        removed = page.locator("#queue-pending .queue-item", has_text="batch 1")
        removed.get_by_role("button", name="Remove").click()
        expect(other.locator("#queue-pending .queue-item")).to_have_count(2)
        assert api.get(f"/api/runs/{ids[0]}").json()["status"] == "cancelled"
        page.click("#queue-toggle")
        expect(other.locator("#queue-paused")).to_be_hidden()
        wait_status(api, ids[1], "completed")
        expect(other.locator("#queue-pending .queue-item")).to_have_count(0)
        other.close()
    finally:
        api.post("/api/queue/resume")
