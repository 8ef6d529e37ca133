"""Example workflow documents shared by workflow, API and page tests."""

from __future__ import annotations

import copy
from typing import Any

from labdeck.workflow.model import FORMAT

# The demo workflow of WORKFLOW_FORMAT.md, on the demo deck's instruments.
DEMO_WORKFLOW: dict[str, Any] = {
    "format": FORMAT,
    "name": "dose-and-measure",
    "description": "Dose a solid and a solvent, then measure.",
    "tags": ["screening"],
    "parameters": [
        {"name": "amount_mg", "default": 5.0},
        {"name": "solvent", "default": "methanol"},
    ],
    "outputs": ["absorbance"],
    "prep": [{"id": "tare", "kind": "call", "target": "balance.tare"}],
    "script": [
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "amount_mg"}},
            "save": "mass",
        },
        {
            "id": "check",
            "kind": "if",
            "condition": "mass > 4.5",
            "then": [
                {
                    "id": "solv",
                    "kind": "call",
                    "target": "dispenser.dispense",
                    "args": {"solvent": {"param": "solvent"}, "volume_ml": 2},
                }
            ],
            "else": [{"id": "warn", "kind": "comment", "text": "low mass {mass}"}],
        },
        {
            "id": "read",
            "kind": "call",
            "target": "spectrometer.measure",
            "save": ["absorbance", "peak_nm"],
        },
    ],
    "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
}


def demo_workflow(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the demo workflow with top-level keys replaced."""
    document = copy.deepcopy(DEMO_WORKFLOW)
    document.update(changes)
    return document
