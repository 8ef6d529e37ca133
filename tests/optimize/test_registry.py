"""The registry: which optimizers exist, which are installed, and a clear word for the rest."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from typing import Any

import pytest

from labdeck.optimize.registry import (
    DEFAULT_OPTIMIZER,
    OPTIMIZERS,
    UnknownOptimizer,
    available_optimizers,
    get_factory,
)


def hide_packages(monkeypatch: pytest.MonkeyPatch, *hidden: str) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name in hidden else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_the_registry_names_optuna_ax_and_baybe() -> None:
    assert list(OPTIMIZERS) == ["optuna", "ax", "baybe"]
    assert DEFAULT_OPTIMIZER == "optuna"
    for name, factory in OPTIMIZERS.items():
        assert factory.name == name
        assert factory.capabilities().name == name
        assert get_factory(name) is factory


def test_optuna_is_always_available_and_listed_first() -> None:
    assert available_optimizers()[0].name == DEFAULT_OPTIMIZER


def test_optimizers_without_their_packages_are_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_packages(monkeypatch, "ax", "baybe")
    assert [factory.name for factory in available_optimizers()] == ["optuna"]
    assert not get_factory("ax").available()  # still known: the campaign says "not installed"


def test_an_unknown_name_says_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_packages(monkeypatch, "baybe")
    with pytest.raises(UnknownOptimizer) as unknown:
        get_factory("hyperopt")
    assert isinstance(unknown.value, ValueError)
    assert unknown.value.name == "hyperopt"
    installed = ["optuna", "ax"] if importlib.util.find_spec("ax") else ["optuna"]
    assert unknown.value.available == installed
    message = str(unknown.value)
    assert "'hyperopt'" in message
    assert f"installed here: {', '.join(installed)}" in message
    assert "pip install 'labdeck[bo]'" in message


def test_no_hint_when_everything_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: object())
    message = str(UnknownOptimizer("hyperopt", ["optuna", "ax", "baybe"]))
    assert message == "there is no optimizer named 'hyperopt'; installed here: optuna, ax, baybe"


def test_listing_imports_no_optimizer_package() -> None:
    """`GET /api/optimizers` must stay quick: Ax, BayBE and torch take seconds to import."""
    script = (
        "import sys\n"
        "from labdeck.optimize.registry import available_optimizers\n"
        "[f.capabilities() for f in available_optimizers()]\n"
        "heavy = ('ax', 'baybe', 'torch', 'botorch', 'optuna')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_capabilities_are_json() -> None:
    for factory in OPTIMIZERS.values():
        document = factory.capabilities().model_dump(mode="json")
        assert json.loads(json.dumps(document)) == document
