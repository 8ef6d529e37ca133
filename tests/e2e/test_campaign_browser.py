"""An optimization campaign in a real browser against a real `labdeck demo` server.

Journey: choose "Optimize (campaign)" on the Execute page, see a range problem marked next to
its input, load earlier results as a warm start, start a small campaign, and watch the
optimization results grow as experiments finish, up to the best-so-far card. The workflow is
created and published through the API. Screenshots go to
test-artifacts/screenshots/campaign-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import demo_server, shot, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Absorbance of a dye solution against the amount of dye and of solvent: it has one optimum
# concentration (aggregation quenches the dye above it). The wait makes each experiment last
# long enough for the page to be seen between experiments.
DYE: dict[str, Any] = {
    "format": "labdeck.workflow/1",
    "name": "dye strength",
    "description": "Dose dye, add ethanol and read the solution's absorbance at 450 nm.",
    "parameters": [{"name": "amount_mg", "default": 5.0}, {"name": "volume_ml", "default": 5.0}],
    "outputs": ["absorbance"],
    "script": [
        {"id": "empty", "kind": "call", "target": "dispenser.empty_vial"},
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "amount_mg"}},
        },
        {
            "id": "solvent",
            "kind": "call",
            "target": "dispenser.dispense",
            "args": {"volume_ml": {"param": "volume_ml"}, "solvent": "ethanol"},
        },
        {"id": "settle", "kind": "wait", "seconds": 1},
        {
            "id": "read",
            "kind": "call",
            "target": "spectrometer.measure",
            "args": {"wavelength_nm": 450},
            "save": ["absorbance", None],
        },
    ],
}
HISTORY = "amount_mg,volume_ml,absorbance,who\n3,5,0.41,ana\n30,8,0.52,ana\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(tmp_path_factory.mktemp("labdeck-campaign")) as base:
        yield base


@pytest.fixture(scope="module")
def workflow(api: httpx.Client) -> str:
    created = api.post("/api/workflows", json=DYE)
    assert created.status_code == 201, created.text
    assert created.json()["problems"] == [], created.json()["problems"]
    assert api.post(f"/api/workflows/{created.json()['id']}/publish").status_code == 201
    return str(created.json()["id"])


@pytest.fixture
def page(browser: Browser, server: str, workflow: str) -> Iterator[Page]:
    with signed_in_page(browser, server, f"/execute?workflow={workflow}") as signed_in:
        expect(signed_in.locator("#live-state")).to_have_text("Live")
        yield signed_in


def observations(page: Page) -> int:
    return int(page.locator("#insight").get_attribute("data-observations") or "-1")


def test_a_campaign_from_the_form_to_the_best_result(
    page: Page, api: httpx.Client, tmp_path: Path
) -> None:
    page.check("#mode-campaign")
    expect(page.locator("#campaign-fields")).to_be_visible()
    expect(page.locator("#table-panel")).to_be_hidden()
    installed = api.get("/api/optimizers").json()
    expect(page.locator("#campaign-optimizer option")).to_have_count(len(installed["optimizers"]))
    expect(page.locator("#campaign-optimizer")).to_have_value(installed["default"])
    card = page.locator('.campaign-param[data-param="amount_mg"]')
    expect(card.locator('[data-key="type"]')).to_have_value("float")
    objective = page.locator('.objective-row[data-objective="absorbance"]')
    expect(objective.locator('[data-key="include"]')).to_be_checked()
    expect(objective.locator('[data-key="direction"]')).to_have_value("maximize")

    # a range the wrong way round comes back from the server, marked on its input
    card.locator('[data-key="low"]').fill("50")
    card.locator('[data-key="high"]').fill("40")
    page.fill("#campaign-budget", "4")
    page.fill("#campaign-initial-random", "2")
    page.click("#submit-run")
    expect(card.locator(".field-error")).to_contain_text("low")
    expect(card.locator(".is-invalid")).to_have_count(1)
    expect(page.locator("#submit-problems")).to_contain_text("marked above")
    shot(page, "campaign-form-problem.png", full_page=True)
    card.locator('[data-key="low"]').fill("1")
    expect(card.locator(".field-error")).to_be_empty()
    expect(card.locator(".is-invalid")).to_have_count(0)
    expect(page.locator("#submit-problems")).to_be_hidden()  # its only problem is fixed
    volume = page.locator('.campaign-param[data-param="volume_ml"]')
    volume.locator('[data-key="low"]').fill("2")
    volume.locator('[data-key="high"]').fill("10")

    # a warm start from earlier results: an unknown column is ignored and said so
    history = tmp_path / "earlier.csv"
    history.write_text(HISTORY)
    page.set_input_files("#history-file", str(history))
    expect(page.locator("#history-status")).to_have_text(
        "2 rows loaded from earlier.csv; ignored columns: who."
    )
    page.locator("summary", has_text="Reproducibility").click()
    page.fill("#campaign-seed", "7")
    page.fill("#run-name", "dye amount scan")
    shot(page, "campaign-form.png", full_page=True)

    page.click("#submit-run")
    page.wait_for_url("**/execute/runs/*")
    run_id = page.url.split("/execute/runs/")[1].split("?")[0]
    insight = page.locator("#insight")
    expect(insight).to_be_visible()
    # the two earlier results, then one more point per finished experiment
    page.wait_for_function(
        "() => { const n = Number(document.getElementById('insight').dataset.observations);"
        " return n > 2 && n < 6; }",
        timeout=20_000,
    )
    expect(page.locator("#best-card")).to_contain_text("Best so far")
    shot(page, "campaign-run-progress.png", full_page=True)
    expect(insight).to_have_attribute("data-observations", "6", timeout=30_000)
    expect(page.locator("#run-status")).to_have_text("completed", timeout=15_000)
    expect(page.locator("#plot-progress")).to_have_attribute("data-observations", "6")
    expect(page.locator("#insight-summary")).to_contain_text("4 of 4 experiments done")
    expect(page.locator("#insight-summary")).to_contain_text("2 earlier results")

    view = api.get(f"/api/runs/{run_id}/campaign").json()
    ran = [o for o in view["observations"] if o["source"] == "run"]
    assert len(ran) == 4
    assert all(1 <= o["params"]["amount_mg"] <= 40 for o in ran)
    assert all(2 <= o["params"]["volume_ml"] <= 10 for o in ran)
    best = view["best"]["absorbance"]
    best_card = page.locator("#best-card")
    expect(best_card).to_contain_text("amount_mg")
    shown = float(best_card.locator(".best-value").first.inner_text().split()[0])
    assert shown == pytest.approx(best["value"], rel=1e-3)
    shot(page, "campaign-run-completed.png", full_page=True)
    shot(insight, "campaign-insight.png")

    # with two parameters: every experiment at a glance, and which one matters when known
    expect(page.locator("#box-parallel")).to_be_visible()
    expect(page.locator("#box-importance")).to_be_visible(visible=view["importance"] is not None)
    page.select_option("#scatter-param", "volume_ml")  # redrawn (a script error fails the test)
