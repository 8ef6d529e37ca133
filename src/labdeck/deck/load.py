"""Loading the user's deck module: from a file path, a dotted module name, or the caller.

A deck is an ordinary Python module whose top-level objects are the instruments. Loading it
runs the integrator's code (hardware connections included), so errors are reported as
`DeckLoadError` with the path and the original error, and a module is never executed twice.

While a deck is being imported by labdeck, `is_loading_deck()` is true: a deck file that ends
with `labdeck.run(__name__)` checks it and does not start a second server.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_loading: ContextVar[bool] = ContextVar("labdeck_loading_deck", default=False)


class DeckLoadError(RuntimeError):
    """The deck module could not be found or raised while being imported."""


@contextmanager
def loading_deck() -> Iterator[None]:
    """Mark the current thread as importing a deck, for the duration of the block."""
    token = _loading.set(True)
    try:
        yield
    finally:
        _loading.reset(token)


def is_loading_deck() -> bool:
    """True while labdeck is importing a deck module (see `loading_deck`)."""
    return _loading.get()


def load_deck_module(spec: str) -> types.ModuleType:
    """Import a deck given as a `.py` file path or as a dotted module name."""
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        return _load_file(Path(spec))
    return _import_name(spec)


def module_from_caller(name: str) -> types.ModuleType:
    """The module that called `labdeck.run(__name__)`."""
    module = sys.modules.get(name)
    if module is None:
        raise DeckLoadError(
            f"no imported module named {name!r}: call labdeck.run(__name__) from the deck module"
        )
    return module


def deck_name(module: types.ModuleType) -> str:
    """The deck's display name: its module name, or the file stem when run as `__main__`."""
    if module.__name__ == "__main__":
        file = getattr(module, "__file__", None)
        if file:
            return Path(file).stem
    return module.__name__


def _load_file(path: Path) -> types.ModuleType:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise DeckLoadError(f"deck file not found: {path}")
    if path.suffix != ".py":
        raise DeckLoadError(f"deck file must be a .py file: {path}")
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None:
        if _module_file(existing) == path:
            return existing
        where = _module_file(existing) or "built in"
        raise DeckLoadError(
            f"cannot load deck {path}: its module name {name!r} is already used by the "
            f"imported module {where}; rename the deck file"
        )
    if name in sys.stdlib_module_names:
        raise DeckLoadError(
            f"cannot load deck {path}: its name {name!r} shadows the standard-library module "
            f"{name!r}; rename the deck file"
        )
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise DeckLoadError(f"cannot load deck {path}: not an importable Python file")
    folder = str(path.parent)
    # Siblings of the deck (driver modules next to it) must be importable, also later on.
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = importlib.util.module_from_spec(module_spec)
    # Registered before exec so dataclasses, pickling and `labdeck.run(__name__)` find it.
    sys.modules[name] = module
    try:
        with loading_deck():
            module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise DeckLoadError(f"cannot load deck {path}: {_describe(exc)}") from exc
    return module


def _import_name(name: str) -> types.ModuleType:
    try:
        with loading_deck():
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise DeckLoadError(
                f"deck module {name!r} not found (is it installed or on PYTHONPATH?)"
            ) from exc
        raise DeckLoadError(f"cannot load deck module {name!r}: {_describe(exc)}") from exc
    except (Exception, SystemExit) as exc:
        raise DeckLoadError(f"cannot load deck module {name!r}: {_describe(exc)}") from exc


def _module_file(module: types.ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    if not file:
        return None
    try:
        return Path(file).resolve()
    except OSError:
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
