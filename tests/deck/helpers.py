"""Helpers for deck tests: call a converter the way a direct call does; write deck files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labdeck.deck.bindings import BoundCall
from labdeck.deck.convert import CallSpec, build_call_spec, make_converter
from labdeck.errors import InvalidInput


def call(func: Callable[..., Any], args: Any) -> BoundCall:
    return make_converter(func, target="t")(args)


def value_of(func: Callable[..., Any], raw: Any, name: str = "x") -> Any:
    return call(func, {name: raw}).kwargs[name]


def fields_of(func: Callable[..., Any], args: Any) -> list[dict[str, Any]]:
    with pytest.raises(InvalidInput) as caught:
        call(func, args)
    assert caught.value.message == "invalid arguments for t"
    fields: list[dict[str, Any]] = caught.value.detail["fields"]
    return fields


def spec(func: Callable[..., Any]) -> CallSpec:
    return build_call_spec(func, target="t")


def write(folder: Path, name: str, source: str) -> Path:
    """Write a (dedented) deck or driver file into `folder`."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path
