"""The Design pages in a real browser against a real `labdeck demo` server.

The journey of the issue: a person builds the demo workflow of WORKFLOW_FORMAT.md by
dragging and typing only (an if block, a tuple save and a #param), sees its code, publishes
it, edits the draft, publishes version 2 and compares both versions. Screenshots go to
test-artifacts/screenshots/design-*.png for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import demo_server, shot, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(tmp_path_factory.mktemp("labdeck-design")) as base:
        yield base


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    with signed_in_page(browser, server, "/design") as signed_in:
        yield signed_in


# --- helpers ----------------------------------------------------------------------------------


def drag(page: Page, source: Locator, target: Locator, *, where: str = "end") -> None:
    """Drag with the mouse as a person does (SortableJS runs in fallback mode)."""
    source.scroll_into_view_if_needed()
    start = source.bounding_box()
    assert start is not None
    page.mouse.move(start["x"] + 12, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 20, start["y"] + start["height"] / 2 + 6, steps=3)
    # The lists shift (with a 120 ms animation) while the ghost passes over them: aim again
    # until the target stands still under the pointer.
    last: tuple[float, float] | None = None
    for steps in (8, 4, 2, 2, 2, 2):
        box = target.bounding_box()
        assert box is not None
        x = box["x"] + box["width"] / 2
        y = box["y"] + (box["height"] - 8 if where == "end" else box["height"] / 2)
        if last == (x, y):
            break
        page.mouse.move(x, y, steps=steps)
        page.wait_for_timeout(180)  # let SortableJS's move animation finish before measuring
        last = (x, y)
    page.mouse.up()


def palette_item(page: Page, group: str, label: str) -> Locator:
    details = page.locator(".palette-group", has=page.locator("summary", has_text=group))
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details.locator(".palette-item", has_text=label).first


def step(page: Page, step_id: str) -> Locator:
    return page.locator(f'.step[data-id="{step_id}"]')


def arg(page: Page, step_id: str, name: str) -> Locator:
    return step(page, step_id).locator(f':scope > .step-form .arg[data-arg="{name}"]')


def saved(page: Page) -> None:
    page.click("#btn-save")
    expect(page.locator("#save-state")).to_contain_text("Saved")


# --- the journey ------------------------------------------------------------------------------


def test_build_publish_edit_and_compare_the_demo_workflow(page: Page, api: httpx.Client) -> None:
    shot(page, "design-library-empty.png")
    page.fill("#new-name", "dose-and-measure")
    page.click(".new-workflow button[type=submit]")
    page.wait_for_url("**/design/*")
    expect(page.locator("#steps-script")).to_be_visible()
    shot(page, "design-empty.png")

    # Before: tare the balance.
    page.click('.phase-tab[data-phase="prep"]')
    drag(page, palette_item(page, "balance", "tare"), page.locator("#steps-prep"))
    expect(step(page, "tare")).to_be_visible()

    # Each sample: dose a run parameter, save the mass.
    page.click('.phase-tab[data-phase="script"]')
    drag(page, palette_item(page, "balance", "dose_solid"), page.locator("#steps-script"))
    amount = arg(page, "dose_solid", "amount_mg").locator(".arg-value")
    amount.fill("#amount_mg")
    amount.press("Tab")
    expect(arg(page, "dose_solid", "amount_mg").locator(".arg-mode")).to_have_value("param")
    save_as = step(page, "dose_solid").locator(".save-name")
    save_as.fill("mass")
    save_as.press("Tab")

    # If the mass is high enough, add solvent; otherwise write to the log.
    drag(page, palette_item(page, "Flow control", "If"), page.locator("#steps-script"))
    condition = step(page, "if").locator(':scope > .step-form [data-arg="condition"] input')
    condition.fill("mass > 4.5")
    condition.press("Tab")
    drag(
        page,
        palette_item(page, "dispenser", "dispense"),
        step(page, "if").locator('ol[data-branch="then"]'),
    )
    volume = arg(page, "dispense", "volume_ml").locator(".arg-value")
    volume.fill("2")
    volume.press("Tab")
    solvent = arg(page, "dispense", "solvent")
    solvent.locator(".arg-mode").select_option("param")
    solvent.locator(".arg-value").fill("solvent")
    solvent.locator(".arg-value").press("Tab")
    drag(
        page,
        palette_item(page, "Flow control", "Write to the run log"),
        step(page, "if").locator('ol[data-branch="else"]'),
    )
    log_text = step(page, "comment").locator('[data-arg="text"] textarea')
    log_text.fill("low mass {mass}")
    log_text.press("Tab")

    # Measure: a tuple return saved as two names.
    drag(page, palette_item(page, "spectrometer", "measure"), page.locator("#steps-script"))
    names = step(page, "measure").locator(".save-name")
    expect(names).to_have_count(2)
    names.nth(0).fill("absorbance")
    names.nth(1).fill("peak_nm")
    names.nth(1).press("Tab")
    page.check("#output-absorbance")

    # After: switch the hotplate off.
    page.click('.phase-tab[data-phase="cleanup"]')
    drag(page, palette_item(page, "hotplate", "off"), page.locator("#steps-cleanup"))
    expect(step(page, "off")).to_be_visible()
    page.click('.phase-tab[data-phase="script"]')

    expect(page.locator("#save-state")).to_contain_text("Unsaved changes")
    page.locator("#code-panel > summary").click()
    expect(page.locator("#python-code")).to_contain_text("dose_solid")
    expect(page.locator("#python-code")).to_contain_text("if mass > 4.5")
    expect(page.locator("#save-state")).to_contain_text("no problems")
    shot(page, "design-built.png", full_page=True)

    saved(page)
    draft = api.get("/api/workflows/dose-and-measure").json()
    assert draft["problems"] == []
    document = draft["draft"]
    assert [s["id"] for s in document["prep"]] == ["tare"]
    assert [s["id"] for s in document["script"]] == ["dose_solid", "if", "measure"]
    assert document["script"][0]["args"] == {"amount_mg": {"param": "amount_mg"}}
    assert document["script"][0]["save"] == "mass"
    assert document["script"][1]["condition"] == "mass > 4.5"
    assert document["script"][1]["then"][0]["args"] == {
        "volume_ml": 2,
        "solvent": {"param": "solvent"},
    }
    assert document["script"][1]["else"][0]["text"] == "low mass {mass}"
    assert document["script"][2]["save"] == ["absorbance", "peak_nm"]
    assert document["outputs"] == ["absorbance"]
    assert {p["name"] for p in document["parameters"]} == {"amount_mg", "solvent"}
    assert [s["target"] for s in document["cleanup"]] == ["hotplate.off"]

    page.click("#btn-publish")
    expect(page.locator("#save-state")).to_contain_text("Published version 1")
    expect(page.locator("#versions")).to_contain_text("version 1")

    # Edit the draft: a longer integration time, then publish version 2.
    expect(step(page, "measure").locator(":scope > .step-form")).to_be_visible()
    integration = arg(page, "measure", "integration_ms").locator(".arg-value")
    integration.fill("500")
    integration.press("Tab")
    expect(page.locator("#save-state")).to_contain_text("Unsaved changes")
    page.keyboard.press("Control+s")
    expect(page.locator("#save-state")).to_contain_text("Saved")
    page.click("#btn-publish")
    expect(page.locator("#save-state")).to_contain_text("Published version 2")
    expect(page.locator("#versions")).to_contain_text("version 2")

    page.locator(".compare-form button[type=submit]").click()
    diff = page.locator("#diff-view .diff")
    expect(diff).to_be_visible()
    expect(diff.locator(".diff-added")).to_contain_text("500")
    page.locator("#versions-panel").scroll_into_view_if_needed()
    shot(page, "design-diff.png", full_page=True)

    page.goto(page.url.split("/design/")[0] + "/design")
    expect(page.locator(".library-table")).to_contain_text("version 2")
    shot(page, "design-library.png")


def test_problems_show_on_their_steps_and_reorder_by_drag(page: Page, api: httpx.Client) -> None:
    document = {
        "format": "labdeck.workflow/1",
        "name": "problems-and-moves",
        "script": [
            {"id": "first", "kind": "comment", "text": "one"},
            {
                "id": "bad",
                "kind": "call",
                "target": "balance.dose_solid",
                "args": {"amount_mg": {"var": "nothing"}},
            },
            {"id": "loop", "kind": "repeat", "times": 2, "do": []},
        ],
    }
    created = api.post("/api/workflows", json=document)
    assert created.status_code == 201, created.text
    page.goto(page.url + f"/{created.json()['id']}")
    expect(step(page, "bad").locator(".badge-problems")).to_be_visible()
    expect(page.locator('.phase-tab[data-phase="script"] .badge-problems')).to_be_visible()
    shot(page, "design-problems.png")

    # Move the comment into the repeat block, then publish is refused while problems remain.
    drag(
        page,
        step(page, "first").locator(".step-head"),
        step(page, "loop").locator('ol[data-branch="do"]'),
    )
    expect(
        step(page, "loop").locator('ol[data-branch="do"] > .step[data-id="first"]')
    ).to_be_visible()
    page.click("#btn-publish")
    expect(page.locator("#save-state")).to_contain_text("Not published")
    moved = api.get("/api/workflows/problems-and-moves").json()["draft"]
    assert [s["id"] for s in moved["script"]] == ["bad", "loop"]
    assert moved["script"][1]["do"][0]["id"] == "first"

    # Skip, duplicate, delete.
    step(page, "bad").locator('[data-action="disable"]').click()
    expect(step(page, "bad")).to_have_class("step step-call is-disabled")
    step(page, "loop").locator(':scope > .step-head [data-action="duplicate"]').click()
    expect(step(page, "loop_2")).to_be_visible()
    expect(step(page, "first_2")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    step(page, "loop_2").locator(':scope > .step-head [data-action="delete"]').click()
    expect(step(page, "loop_2")).to_have_count(0)
    saved(page)
