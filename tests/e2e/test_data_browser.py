"""The Data pages in a real browser against a real `labdeck demo` server.

Journeys: filter the runs list by status; open a run from the list; sort its results table;
plot an output against a parameter; open an iteration's steps; download the results CSV;
replay a run and follow the replay chain; the direct-call history. Runs are made through the
API. Screenshots go to test-artifacts/screenshots/data-*.png.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import demo_server, shot, signed_in_page
from tests.runtime.test_runs_api import WORKFLOW

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The runtime tests' workflow without its log line: each iteration shows two steps here.
DOSE: dict[str, Any] = {
    **WORKFLOW,
    "script": [step for step in WORKFLOW["script"] if step["kind"] != "comment"],
}
PUMP: dict[str, Any] = {
    "format": "labdeck.workflow/1",
    "name": "flush the line",
    "script": [
        {"id": "flush", "kind": "call", "target": "broken_pump.pump", "args": {"volume_ml": 2}}
    ],
}
AMOUNTS = [2.0, 9.0, 5.0, 7.0]


def wait_status(api: httpx.Client, run_id: str, *wanted: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while api.get(f"/api/runs/{run_id}").json()["status"] not in wanted:
        assert time.monotonic() < deadline, f"run {run_id} never became {wanted}"
        time.sleep(0.05)


def publish(api: httpx.Client, document: dict[str, Any]) -> str:
    created = api.post("/api/workflows", json=document)
    assert created.status_code == 201, created.text
    assert api.post(f"/api/workflows/{created.json()['id']}/publish").status_code == 201
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(tmp_path_factory.mktemp("labdeck-data")) as base:
        yield base


@pytest.fixture(scope="module")
def runs(api: httpx.Client) -> dict[str, str]:
    """A table run, a failed run and a cancelled one, all finished."""
    dose, pump = publish(api, DOSE), publish(api, PUMP)
    table = api.post(
        "/api/runs",
        json={
            "workflow": dose,
            "name": "solubility screen",
            "mode": {"table": [{"amount_mg": a} for a in AMOUNTS]},
        },
    ).json()
    wait_status(api, table["id"], "completed")
    failed = api.post(
        "/api/runs", json={"workflow": pump, "name": "line flush", "on_error": "fail"}
    ).json()
    wait_status(api, failed["id"], "failed")
    api.post("/api/queue/pause").raise_for_status()
    held = api.post("/api/runs", json={"workflow": dose, "name": "never started"}).json()
    api.post(f"/api/runs/{held['id']}/cancel", json={"reason": "wrong vials"}).raise_for_status()
    api.post("/api/queue/resume").raise_for_status()
    api.post("/api/instruments/balance/weigh", json={"args": {}}).raise_for_status()
    api.post("/api/instruments/broken_pump/prime", json={"args": {}}).raise_for_status()
    return {"table": table["id"], "failed": failed["id"], "cancelled": held["id"]}


@pytest.fixture
def page(browser: Browser, server: str, runs: dict[str, str]) -> Iterator[Page]:
    with signed_in_page(browser, server, "/data/runs") as signed_in:
        yield signed_in


def listed(page: Page) -> list[str]:
    return page.locator("#runs-table .run-link").all_inner_texts()


def test_filter_the_runs_list_by_status(page: Page, server: str) -> None:
    expect(page.locator("nav.mainnav a.active")).to_have_text("Data")
    assert listed(page) == ["never started", "line flush", "solubility screen"]
    shot(page, "data-runs.png", full_page=True)
    page.select_option("#f-status", "failed")
    page.click("#run-filters button[type=submit]")
    page.wait_for_url(f"{server}/data/runs?status=failed")  # empty fields left out
    assert listed(page) == ["line flush"]
    expect(page.locator("#f-status")).to_have_value("failed")
    page.fill("#f-q", "solubility")
    page.click("#run-filters button[type=submit]")
    expect(page.locator(".empty-state")).to_contain_text("No runs match these filters.")
    shot(page, "data-runs-empty.png")
    page.click("text=Clear filters")
    expect(page.locator("#runs-table .run-link")).to_have_count(3)


def test_open_a_run_sort_plot_and_download(
    page: Page, server: str, runs: dict[str, str], tmp_path: Path
) -> None:
    page.click("text=solubility screen")
    page.wait_for_url(f"{server}/data/runs/{runs['table']}")
    expect(page.locator("h1 .badge")).to_have_text("completed")
    # iteration, then amount_mg (no sample column: each iteration is one sample)
    amounts = page.locator("#results-table tbody tr td:nth-child(2)")
    assert [float(t) for t in amounts.all_inner_texts()] == AMOUNTS
    page.click("#results-table th:nth-child(2) .sort-button")
    expect(page.locator("#results-table th:nth-child(2)")).to_have_attribute(
        "aria-sort", "ascending"
    )
    assert [float(t) for t in amounts.all_inner_texts()] == sorted(AMOUNTS)
    page.click("#results-table th:nth-child(2) .sort-button")
    assert [float(t) for t in amounts.all_inner_texts()] == sorted(AMOUNTS, reverse=True)
    plot = page.locator("#plot-results")
    expect(plot).to_have_attribute("data-x", "iteration")
    expect(plot).to_have_attribute("data-y", "mass")
    page.select_option("#plot-x", "amount_mg")
    expect(plot).to_have_attribute("data-x", "amount_mg")
    expect(plot).to_have_attribute("data-points", "4")
    page.select_option("#plot-y", "absorbance")
    expect(plot).to_have_attribute("data-y", "absorbance")
    assert plot.locator("canvas").count() == 1
    page.click('details[data-iteration="2"] > summary')
    steps = page.locator('details[data-iteration="2"] .steps-table')
    expect(steps).to_be_visible()
    expect(steps.locator(".step-path")).to_have_text(["dose", "read"])
    expect(steps).to_contain_text("amount_mg=9.0")
    shot(page, "data-run.png", full_page=True)
    with page.expect_download() as download_info:
        page.click("#download-results-csv")
    download = download_info.value
    assert download.suggested_filename == f"run-{runs['table']}-results.csv"
    saved = tmp_path / "results.csv"
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [float(r["amount_mg"]) for r in rows] == AMOUNTS
    assert {"iteration", "sample", "mass", "absorbance"} <= set(rows[0])


def test_a_failed_run_says_what_went_wrong(page: Page, server: str, runs: dict[str, str]) -> None:
    page.goto(f"{server}/data/runs/{runs['failed']}")
    expect(page.locator(".problems")).to_contain_text("PRESSURE_HIGH")
    expect(page.locator(".problems")).to_contain_text("line pressure above 4 bar")
    expect(page.locator("#results")).to_contain_text("No results yet")
    page.click('details[data-iteration="1"] > summary')
    expect(page.locator('details[data-iteration="1"] .steps-table')).to_contain_text(
        "PRESSURE_HIGH"
    )
    page.click(".code-details > summary")
    expect(page.locator(".code-view")).to_contain_text("broken_pump.pump")
    shot(page, "data-run-failed.png", full_page=True)


def test_replay_opens_the_new_run_with_its_chain(
    page: Page, server: str, api: httpx.Client, runs: dict[str, str]
) -> None:
    page.goto(f"{server}/data/runs/{runs['failed']}")
    page.click('#run-actions button[data-verb="replay"]')
    page.wait_for_url(lambda url: "/data/runs/" in url and not url.endswith(f"/{runs['failed']}"))
    replay_id = page.url.rsplit("/", 1)[1]
    wait_status(api, replay_id, "failed")
    chain = page.locator("#replay-chain")
    expect(chain).to_contain_text(f"#{runs['failed']} line flush")
    expect(chain.locator(".chain-self")).to_contain_text(f"#{replay_id}")
    page.click(f"#replay-chain a[href='/data/runs/{runs['failed']}']")
    expect(page.locator("#replay-chain")).to_contain_text(f"#{replay_id}")


def test_the_direct_call_history(page: Page, server: str) -> None:
    page.click("text=Direct calls")
    page.wait_for_url(f"{server}/data/calls")
    expect(page.locator("#calls-table")).to_contain_text("balance.weigh")
    expect(page.locator("#calls-table")).to_contain_text("UNHANDLED_EXCEPTION")
    page.fill("#f-target", "broken_pump.prime")
    page.click("#call-filters button[type=submit]")
    expect(page.locator("#calls-table tbody tr")).to_have_count(1)
    shot(page, "data-calls.png", full_page=True)


def test_narrow_screens_get_readable_rows(browser: Browser, server: str) -> None:
    with signed_in_page(browser, server, "/data/runs") as page:
        page.set_viewport_size({"width": 420, "height": 900})
        first = page.locator("#runs-table tbody tr").first
        expect(first.locator('td[data-label="Status"]')).to_be_visible()
        box = first.bounding_box()
        assert box is not None
        assert box["width"] <= 420
        shot(page, "data-runs-narrow.png", full_page=True)


def test_a_campaign_run_shows_the_optimization_plots(
    page: Page, server: str, api: httpx.Client
) -> None:
    workflow = api.get("/api/workflows", params={"q": "dose and read"}).json()[0]["id"]
    campaign = {
        "optimizer": "optuna",
        "parameters": [{"name": "amount_mg", "type": "float", "low": 1, "high": 20}],
        "objectives": [{"name": "mass", "direction": "maximize"}],
        "budget": 3,
        "seed": 1,
    }
    api.post("/api/queue/resume").raise_for_status()  # a failed run before pauses the queue
    run = api.post(
        "/api/runs",
        json={"workflow": workflow, "name": "find the dose", "mode": {"campaign": campaign}},
    )
    assert run.status_code == 201, run.text
    wait_status(api, run.json()["id"], "completed")
    page.goto(f"{server}/data/runs/{run.json()['id']}")
    expect(page.locator("#insight")).to_have_attribute("data-observations", "3")
    expect(page.locator("#best-card")).to_contain_text("Best so far")
    expect(page.locator("#plot-results")).to_have_attribute("data-points", "3")
    shot(page, "data-run-campaign.png", full_page=True)
