"""Fixtures for deck tests: a throwaway folder for deck files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def deck_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder for deck files; what they import is forgotten afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = tmp_path / "lab"
    folder.mkdir()
    yield folder
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
