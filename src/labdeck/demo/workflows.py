"""Workflows for the demo deck, ready to publish: examples for people and for campaigns.

`DEMO_WORKFLOWS` lists `labdeck.workflow/1` documents that validate against the demo deck
(`labdeck.demo.deck`) with no problems. "dye-absorbance" is one experiment per sample: make
a fresh solution of the dye and read its absorbance at 450 nm. Its absorbance has one
optimum (2.5 mg/mL, 60 °C, 600 rpm, ethanol; see `bench.absorbance_model`), so it is the
demo's optimization campaign: every parameter feeds an argument with bounds or choices, and
`GET /api/workflows/dye-absorbance/campaign-template` makes a search space of them.
`labdeck demo` publishes them at start (`install_demo_workflows`) when they are missing.
"""

from __future__ import annotations

from typing import Any

from labdeck.errors import NotFound
from labdeck.workflow.library import WorkflowLibrary
from labdeck.workflow.model import FORMAT

DEMO_USER = "demo"

DYE_ABSORBANCE: dict[str, Any] = {
    "format": FORMAT,
    "name": "dye-absorbance",
    "description": (
        "Make a dye solution (solid, solvent, stirring, temperature) and read its absorbance"
        " at 450 nm. Optimize the absorbance with a campaign."
    ),
    "tags": ["demo", "campaign"],
    "parameters": [
        {"name": "amount_mg", "default": 5.0},
        {"name": "volume_ml", "default": 5.0},
        {"name": "solvent", "default": "water"},
        {"name": "stir_rpm", "default": 400},
        {"name": "temperature_c", "default": 25.0},
    ],
    "outputs": ["absorbance", "peak_nm"],
    "prep": [
        {
            "id": "blank",
            "kind": "call",
            "target": "spectrometer.blank",
            "note": "subtract the cuvette background from every reading",
        }
    ],
    "script": [
        {"id": "empty", "kind": "call", "target": "dispenser.empty_vial"},
        {"id": "tare", "kind": "call", "target": "balance.tare"},
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "amount_mg"}},
            "save": "mass_mg",
        },
        {
            "id": "solvent",
            "kind": "call",
            "target": "dispenser.dispense",
            "args": {"volume_ml": {"param": "volume_ml"}, "solvent": {"param": "solvent"}},
            "save": "delivered_ml",
        },
        {
            "id": "stir",
            "kind": "call",
            "target": "hotplate.stir",
            "args": {"rpm": {"param": "stir_rpm"}},
        },
        {
            "id": "heat",
            "kind": "call",
            "target": "hotplate.set_temperature",
            "args": {"celsius": {"param": "temperature_c"}},
        },
        {
            "id": "settle",
            "kind": "call",
            "target": "hotplate.wait_for_temperature",
            "save": "reached_c",
        },
        {
            "id": "read",
            "kind": "call",
            "target": "spectrometer.measure",
            "args": {"wavelength_nm": 450},
            "save": ["absorbance", "peak_nm"],
        },
    ],
    "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
}

DEMO_WORKFLOWS: list[dict[str, Any]] = [DYE_ABSORBANCE]


def install_demo_workflows(library: WorkflowLibrary) -> list[str]:
    """Create and publish each demo workflow the library lacks; returns the names added.

    A workflow of the same name that exists already (perhaps edited by someone trying the
    demo) is left alone.
    """
    added: list[str] = []
    for document in DEMO_WORKFLOWS:
        try:
            library.get(document["name"])
            continue
        except NotFound:
            pass
        library.create(document, user=DEMO_USER)
        library.publish(document["name"], user=DEMO_USER)
        added.append(document["name"])
    return added
