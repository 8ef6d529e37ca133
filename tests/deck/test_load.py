"""Loading deck modules from a path, a dotted name or the caller, and reporting failures."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from labdeck.deck.load import (
    DeckLoadError,
    deck_name,
    is_loading_deck,
    load_deck_module,
    loading_deck,
    module_from_caller,
)
from tests.deck.helpers import write


def test_a_file_is_imported_under_its_stem_with_siblings_importable(deck_dir: Path) -> None:
    write(deck_dir, "drivers_for_load.py", "class Pump:\n    pass\n")
    path = write(
        deck_dir,
        "load_deck_a.py",
        """
        from dataclasses import dataclass

        from drivers_for_load import Pump

        @dataclass
        class Settings:  # dataclasses look their module up in sys.modules while executing
            speed: int = 1

        pump = Pump()
        settings = Settings()
        """,
    )
    module = load_deck_module(str(path))
    assert module.__name__ == "load_deck_a"
    assert sys.modules["load_deck_a"] is module
    assert type(module.pump).__module__ == "drivers_for_load"
    assert module.settings.speed == 1
    assert sys.path[0] == str(deck_dir)


def test_loading_the_same_file_twice_does_not_run_it_again(deck_dir: Path) -> None:
    path = write(
        deck_dir,
        "load_deck_counted.py",
        """
        import builtins

        builtins.labdeck_test_runs = getattr(builtins, "labdeck_test_runs", 0) + 1
        """,
    )
    import builtins

    first = load_deck_module(str(path))
    second = load_deck_module(str(path))
    try:
        assert first is second
        assert builtins.labdeck_test_runs == 1  # type: ignore[attr-defined]
    finally:
        del builtins.labdeck_test_runs  # type: ignore[attr-defined]


def test_a_stem_taken_by_another_imported_module_is_refused(deck_dir: Path) -> None:
    path = write(deck_dir, "json.py", "x = 1\n")
    with pytest.raises(DeckLoadError, match="already used by the imported module") as caught:
        load_deck_module(str(path))
    assert "rename the deck file" in str(caught.value)
    assert sys.modules["json"].__file__ != str(path)


def test_a_stem_that_shadows_the_standard_library_is_refused(deck_dir: Path) -> None:
    name = next(
        n for n in sorted(sys.stdlib_module_names) if n.isidentifier() and n not in sys.modules
    )
    path = write(deck_dir, f"{name}.py", "x = 1\n")
    with pytest.raises(DeckLoadError, match="rename the deck file"):
        load_deck_module(str(path))
    assert name not in sys.modules


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def broken(:\n", "SyntaxError"),
        ("import labdeck_no_such_driver\n", "ModuleNotFoundError: No module named"),
        ("raise RuntimeError('pump not connected')\n", "RuntimeError: pump not connected"),
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
    ],
)
def test_errors_in_the_deck_name_the_path_and_the_original_error(
    deck_dir: Path, source: str, expected: str
) -> None:
    path = write(deck_dir, "load_deck_broken.py", source)
    with pytest.raises(DeckLoadError) as caught:
        load_deck_module(str(path))
    message = str(caught.value)
    assert str(path) in message
    assert expected in message
    assert "load_deck_broken" not in sys.modules  # a retry after fixing the file runs it


def test_a_missing_file_is_reported(deck_dir: Path) -> None:
    with pytest.raises(DeckLoadError, match="deck file not found"):
        load_deck_module(str(deck_dir / "nowhere.py"))


def test_a_dotted_module_name_is_imported(deck_dir: Path) -> None:
    write(deck_dir, "loadlab/__init__.py", "")
    write(deck_dir, "loadlab/deck.py", "answer = 42\n")
    sys.path.insert(0, str(deck_dir))
    module = load_deck_module("loadlab.deck")
    assert module.answer == 42
    assert deck_name(module) == "loadlab.deck"


def test_an_unknown_module_name_is_reported() -> None:
    with pytest.raises(DeckLoadError, match=r"deck module 'labdeck_nowhere\.deck' not found"):
        load_deck_module("labdeck_nowhere.deck")


def test_a_module_failing_inside_is_not_reported_as_missing(deck_dir: Path) -> None:
    write(deck_dir, "loadlab2/__init__.py", "")
    write(deck_dir, "loadlab2/deck.py", "import labdeck_no_such_driver\n")
    sys.path.insert(0, str(deck_dir))
    with pytest.raises(DeckLoadError, match=r"cannot load deck module 'loadlab2\.deck'"):
        load_deck_module("loadlab2.deck")


def test_the_loading_flag_is_set_only_while_the_deck_is_imported(deck_dir: Path) -> None:
    path = write(
        deck_dir,
        "load_deck_flag.py",
        "from labdeck.deck.load import is_loading_deck\nseen = is_loading_deck()\n",
    )
    assert is_loading_deck() is False
    module = load_deck_module(str(path))
    assert module.seen is True
    assert is_loading_deck() is False


def test_the_loading_flag_is_reset_after_an_error(deck_dir: Path) -> None:
    path = write(deck_dir, "load_deck_fails.py", "raise ValueError('x')\n")
    with pytest.raises(DeckLoadError):
        load_deck_module(str(path))
    assert is_loading_deck() is False
    with loading_deck():
        assert is_loading_deck() is True
    assert is_loading_deck() is False


def test_module_from_caller_returns_the_imported_module() -> None:
    assert module_from_caller(__name__) is sys.modules[__name__]
    with pytest.raises(DeckLoadError, match=r"labdeck\.run\(__name__\)"):
        module_from_caller("labdeck_never_imported")


def test_deck_name_is_the_module_name_or_the_file_stem_for_main() -> None:
    main = types.ModuleType("__main__")
    main.__file__ = "/labs/bench_deck.py"
    assert deck_name(main) == "bench_deck"
    assert deck_name(types.ModuleType("__main__")) == "__main__"
    assert deck_name(types.ModuleType("lab.deck")) == "lab.deck"
