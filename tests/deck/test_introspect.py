"""Introspection: what a deck exposes, how members are described, and that it never crashes."""

from __future__ import annotations

import functools
import sys
import types
import typing
import unittest.mock
from collections.abc import Awaitable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypedDict

import pytest

from labdeck.deck import introspect
from labdeck.deck.bindings import Deck
from labdeck.deck.introspect import describe_return, introspect_deck, is_async_callable
from labdeck.deck.load import load_deck_module
from labdeck.errors import InvalidInput, NotFound
from tests.deck.helpers import write

DECKS = Path(__file__).parent.parent / "decks"


@pytest.fixture(scope="module")
def ivoryos_deck() -> Deck:
    return introspect_deck(load_deck_module(str(DECKS / "ivoryos_style_deck.py")))


def module_with(name: str = "odd_deck", **members: Any) -> types.ModuleType:
    """An in-memory deck module; classes made here count as defined in it."""
    module = types.ModuleType(name)
    for attr, value in members.items():
        if issubclass(type(value), type):  # not isinstance: some test objects refuse __class__
            value.__module__ = name
        setattr(module, attr, value)
    return module


# --- what is exposed ------------------------------------------------------------------------


def test_ivoryos_style_deck_exposes_instances_and_own_functions(ivoryos_deck: Deck) -> None:
    schema = ivoryos_deck.schema
    assert list(schema.instruments) == ["pump", "balance"]
    assert list(schema.functions) == ["wash"]
    assert schema.instruments["pump"].class_ == "ivoryos_style_deck.SyringePump"
    assert schema.instruments["pump"].doc == "A syringe pump that doses solvents."


def test_the_skip_list_only_names_what_an_integrator_may_have_expected(
    ivoryos_deck: Deck,
) -> None:
    # Logger, constants, the lock, the Enum class, modules and typing names are left out.
    assert [(s.name, s.reason) for s in ivoryos_deck.schema.skipped] == [
        (
            "sqrt",
            "function imported from math: pass expose=['sqrt'] (or --expose sqrt) to expose it",
        )
    ]


def test_methods_are_public_and_include_inherited_ones_but_nothing_from_object() -> None:
    class Base:
        def home(self) -> None: ...

        def _private(self) -> None: ...

    class Arm(Base):
        class Nested: ...

        speed = 3

        def move(self, x: float) -> None: ...

        @staticmethod
        def version() -> str:
            return "1"

        @classmethod
        def model(cls) -> str:
            return cls.__name__

    deck = introspect_deck(module_with(Arm=Arm, arm=Arm()))
    assert list(deck.schema.instruments["arm"].methods) == ["move", "version", "model", "home"]
    assert deck.method("arm", "version").func() == "1"
    assert deck.method("arm", "model").func() == "Arm"


def test_third_party_objects_are_skipped_with_how_to_expose_them() -> None:
    module = load_deck_module(str(DECKS / "plr_deck.py"))
    deck = introspect_deck(module)
    assert deck.schema.instruments == {}
    reasons = {s.name: s.reason for s in deck.schema.skipped}
    assert reasons["lh"] == (
        "pylabrobot.liquid_handling.liquid_handler.LiquidHandler is a third-party object: "
        "pass expose=['lh'] (or --expose lh) to expose it"
    )
    assert "function imported from pylabrobot" in reasons["STARLetDeck"]


def test_expose_forces_names_in_and_exclude_hides_them(ivoryos_deck: Deck) -> None:
    module = ivoryos_deck.module
    deck = introspect_deck(module, expose=["sqrt", "lock"], exclude=["balance"])
    assert set(deck.schema.instruments) == {"pump", "lock"}
    assert set(deck.schema.functions) == {"wash", "sqrt"}
    assert deck.function("sqrt").convert({"x": 4}).args == (4,)  # builtin, positional-only x
    assert [(s.name, s.reason) for s in deck.schema.skipped] == [("balance", "hidden by exclude")]


@pytest.mark.parametrize(
    ("expose", "exclude", "message"),
    [
        (["nope"], None, "cannot expose 'nope': no such top-level name"),
        (["Solvent"], None, "cannot expose 'Solvent': it is a class"),
        (["PORTS"], None, "cannot expose 'PORTS': it is a constant of type list"),
        (["asyncio"], None, "cannot expose 'asyncio': it is a module"),
        (["pump"], ["pump"], "'pump' cannot be both exposed and excluded"),
    ],
)
def test_wrong_expose_or_exclude_is_a_clear_value_error(
    ivoryos_deck: Deck, expose: list[str], exclude: list[str] | None, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        introspect_deck(ivoryos_deck.module, expose=expose, exclude=exclude)


def test_classes_from_sibling_modules_are_user_classes(deck_dir: Path) -> None:
    write(deck_dir, "intro_drivers.py", "class Stirrer:\n    def stir(self) -> None: ...\n")
    write(deck_dir, "intro_helpers.py", "def helper() -> None: ...\n")
    path = write(
        deck_dir,
        "intro_deck.py",
        """
        from intro_drivers import Stirrer
        from intro_helpers import helper

        stirrer = Stirrer()
        """,
    )
    deck = introspect_deck(load_deck_module(str(path)))
    assert list(deck.schema.instruments) == ["stirrer"]
    assert [s.name for s in deck.schema.skipped] == ["helper"]


def test_classes_from_the_decks_own_installed_package_are_user_classes(
    deck_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend deck_dir is site-packages: only the deck's own package stays "user".
    monkeypatch.setattr(introspect, "_install_roots", lambda: (deck_dir.resolve(),))
    write(deck_dir, "intro_lab/__init__.py", "")
    write(deck_dir, "intro_lab/drivers.py", "class Oven:\n    def heat(self) -> None: ...\n")
    write(deck_dir, "intro_vendor/__init__.py", "class Robot:\n    def go(self) -> None: ...\n")
    write(
        deck_dir,
        "intro_lab/deck.py",
        "from intro_lab.drivers import Oven\nfrom intro_vendor import Robot\n"
        "oven = Oven()\nrobot = Robot()\n",
    )
    sys.path.insert(0, str(deck_dir))
    deck = introspect_deck(load_deck_module("intro_lab.deck"))
    assert list(deck.schema.instruments) == ["oven"]
    assert "intro_vendor.Robot is a third-party object" in deck.schema.skipped[0].reason


# --- methods --------------------------------------------------------------------------------


def test_method_schema_comes_from_hints_and_docstring(ivoryos_deck: Deck) -> None:
    dose = ivoryos_deck.schema.instruments["pump"].methods["dose"]
    assert dose.doc == "Dose liquid."
    assert [(p.name, p.required, p.default, p.doc) for p in dose.params] == [
        ("volume_ml", True, None, "Volume to dose, in mL."),
        ("rate", False, 1.0, "Flow rate in mL/min."),
        ("solvent", False, None, "Which reservoir to draw from."),
    ]
    solvent = dose.params_schema["properties"]["solvent"]
    assert solvent["anyOf"][0]["x-enum-names"] == ["WATER", "ETHANOL", "ACETONE"]
    port = ivoryos_deck.schema.instruments["pump"].methods["select_port"]
    assert port.params_schema["properties"]["port"]["enum"] == [1, 2, 3]


def test_future_annotations_with_enum_optional_and_literal_convert(ivoryos_deck: Deck) -> None:
    solvent_cls = ivoryos_deck.module.Solvent
    bound = ivoryos_deck.method("pump", "dose").convert({"volume_ml": "2", "solvent": "ETHANOL"})
    assert bound.kwargs == {"volume_ml": 2.0, "solvent": solvent_cls.ETHANOL}
    assert ivoryos_deck.method("pump", "select_port").convert({"port": "2"}).kwargs == {"port": 2}
    sequence = ivoryos_deck.method("pump", "dose_sequence").convert(
        {"volumes": ["1.5"], "solvents": ["water", "ACETONE"]}
    )
    assert sequence.kwargs["solvents"] == [solvent_cls.WATER, solvent_cls.ACETONE]


class Heater:
    class Mode(Enum):
        ECO = "eco"
        BOOST = "boost"

    def set_mode(self, mode: Mode) -> Mode:  # "Mode" only resolves in the class namespace
        return mode


def test_hints_naming_class_level_types_resolve_in_the_class_namespace() -> None:
    deck = introspect_deck(module_with(Heater=Heater, heater=Heater()))
    set_mode = deck.schema.instruments["heater"].methods["set_mode"]
    assert set_mode.callable is True
    assert set_mode.params_schema["properties"]["mode"]["x-enum-names"] == ["ECO", "BOOST"]
    assert deck.method("heater", "set_mode").convert({"mode": "BOOST"}).kwargs == {
        "mode": Heater.Mode.BOOST
    }


def test_deck_functions_include_async_ones_and_partials_of_own_functions(deck_dir: Path) -> None:
    path = write(
        deck_dir,
        "intro_functions.py",
        """
        import functools

        async def read_all(wavelength: int) -> list[float]:
            return []

        def wash(cycles: int, solvent: str = "water") -> None: ...

        quick_wash = functools.partial(wash, 1)
        imported_partial = functools.partial(print, end="")
        """,
    )
    deck = introspect_deck(load_deck_module(str(path)))
    assert list(deck.schema.functions) == ["read_all", "wash", "quick_wash"]
    assert deck.schema.functions["read_all"].async_ is True
    assert [p.name for p in deck.schema.functions["quick_wash"].params] == ["solvent"]
    assert [s.name for s in deck.schema.skipped] == ["imported_partial"]


def test_bindings_call_the_live_objects(ivoryos_deck: Deck) -> None:
    pump = ivoryos_deck.instrument("pump").obj
    binding = ivoryos_deck.method("pump", "dose")
    bound = binding.convert({"volume_ml": 3})
    assert binding.func(*bound.args, **bound.kwargs) == 3
    assert pump.dosed[-1] == (3, None)
    wash = ivoryos_deck.function("wash")
    assert wash.target == "wash"
    assert wash.func(**wash.convert({"solvent": "ACETONE"}).kwargs) == "2 x acetone"
    with pytest.raises(RuntimeError, match="syringe blocked"):
        ivoryos_deck.method("pump", "jam").func()


def test_unknown_or_private_members_are_not_found(ivoryos_deck: Deck) -> None:
    with pytest.raises(NotFound):
        ivoryos_deck.method("pump", "_temperature")
    with pytest.raises(NotFound):
        ivoryos_deck.method("pump", "__init__")
    with pytest.raises(NotFound):
        ivoryos_deck.instrument("lock")


def test_async_methods_are_detected(ivoryos_deck: Deck) -> None:
    methods = ivoryos_deck.schema.instruments["pump"].methods
    assert methods["prime"].async_ is True
    assert ivoryos_deck.method("pump", "prime").is_async is True
    assert methods["settle"].async_ is False
    assert methods["prime"].model_dump(by_alias=True)["async"] is True


async def _async_base(x: int) -> int:
    return x


def test_async_is_seen_through_wraps_partial_and_bound_methods() -> None:
    @functools.wraps(_async_base)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _async_base(*args, **kwargs)

    class Reader:
        async def read(self) -> None: ...

    assert is_async_callable(wrapper) is True
    assert is_async_callable(functools.partial(_async_base, 1)) is True
    assert is_async_callable(Reader().read) is True
    assert is_async_callable(len) is False


class Reading(TypedDict):
    value: float


def returns_none() -> None: ...
def returns_never() -> NoReturn: ...  # type: ignore[empty-body]
def returns_pair() -> tuple[float, float]: ...  # type: ignore[empty-body]
def returns_old_pair() -> typing.Tuple[int, str]: ...  # type: ignore[empty-body]  # noqa: UP006
def returns_many() -> tuple[float, ...]: ...  # type: ignore[empty-body]
def returns_dict() -> dict[str, float]: ...  # type: ignore[empty-body]
def returns_mapping() -> Mapping[str, int]: ...  # type: ignore[empty-body]
def returns_typed_dict() -> Reading: ...  # type: ignore[empty-body]
def returns_float() -> float: ...  # type: ignore[empty-body]
def returns_optional() -> float | None: ...
def returns_any() -> Any: ...
def returns_unannotated(): ...  # type: ignore[no-untyped-def]


@pytest.mark.parametrize(
    ("func", "kind", "arity"),
    [
        (returns_none, "none", None),
        (returns_never, "none", None),
        (returns_pair, "tuple", 2),
        (returns_old_pair, "tuple", 2),
        (returns_many, "tuple", None),
        (returns_dict, "dict", None),
        (returns_mapping, "dict", None),
        (returns_typed_dict, "dict", None),
        (returns_float, "scalar", None),
        (returns_optional, "scalar", None),
        (returns_any, "any", None),
        (returns_unannotated, "any", None),
    ],
)
def test_return_kinds(func: Any, kind: str, arity: int | None) -> None:
    deck = introspect_deck(module_with(f=func), expose=["f"])
    returns = deck.schema.functions["f"].returns
    assert (returns.kind, returns.arity) == (kind, arity)


def test_return_schema_describes_the_type() -> None:
    assert describe_return(tuple[float, float]).schema_["prefixItems"] == [
        {"type": "number"},
        {"type": "number"},
    ]
    assert describe_return(BinaryIO).schema_ == {}


def test_an_awaitable_return_is_described_by_what_it_resolves_to() -> None:
    returns = describe_return(Awaitable[tuple[int, str]])
    assert (returns.kind, returns.arity) == ("tuple", 2)


class Odd:
    def upload(self, f: BinaryIO) -> None: ...

    def on_done(self, callback: typing.Callable[[int], None]) -> None: ...

    def log(self, n: int, stream: BinaryIO | None = None) -> None: ...

    def seek(self, offset: int, whence: int = 0, /) -> None: ...

    def configure(self, name: str, **options: Any) -> None: ...

    def limits(self, **limits: float) -> None: ...


def test_methods_json_cannot_call_are_listed_with_the_reason() -> None:
    methods = introspect_deck(module_with(Odd=Odd, odd=Odd())).schema.instruments["odd"].methods
    assert methods["upload"].callable is False
    assert methods["upload"].reason == "parameter 'f': type BinaryIO cannot be given as JSON"
    assert methods["on_done"].callable is False
    assert "parameter 'callback'" in (methods["on_done"].reason or "")
    assert methods["log"].callable is True
    assert list(methods["log"].params_schema["properties"]) == ["n"]


def test_positional_only_and_kwargs_are_described() -> None:
    deck = introspect_deck(module_with(Odd=Odd, odd=Odd()))
    methods = deck.schema.instruments["odd"].methods
    assert [p.kind for p in methods["seek"].params] == ["positional_only", "positional_only"]
    assert deck.method("odd", "seek").convert({"offset": "5"}).args == (5,)
    assert methods["configure"].accepts_extra is True
    assert methods["configure"].params_schema["additionalProperties"] is True
    assert deck.method("odd", "configure").convert({"name": "a", "x": 1}).kwargs == {
        "name": "a",
        "x": 1,
    }
    assert methods["limits"].params_schema["additionalProperties"] == {"type": "number"}
    assert methods["seek"].accepts_extra is False
    assert methods["seek"].params_schema["additionalProperties"] is False


# --- properties -----------------------------------------------------------------------------


class Watched:
    reads = 0

    @property
    def temperature(self) -> float:
        """Current temperature."""
        Watched.reads += 1
        return 20.0

    @property
    def exploding(self) -> int:
        raise RuntimeError("getter must not run during introspection")

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: typing.Literal["fast", "slow"]) -> None:
        self._mode = value

    @property
    def sink(self) -> Any:
        return None

    @sink.setter
    def sink(self, value: BinaryIO) -> None: ...

    @functools.cached_property
    def serial(self) -> str:
        Watched.reads += 1
        return "SN1"


def test_properties_are_described_without_running_getters() -> None:
    deck = introspect_deck(module_with(Watched=Watched, watched=Watched()))
    assert Watched.reads == 0
    props = deck.schema.instruments["watched"].properties
    assert props["temperature"].doc == "Current temperature."
    assert props["temperature"].schema_ == {"type": "number"}
    assert props["temperature"].settable is False
    assert props["serial"].settable is False
    assert props["mode"].settable is True
    assert props["exploding"].schema_ == {"type": "integer"}
    assert "serial" not in deck.schema.instruments["watched"].methods


def test_property_bindings_read_convert_and_set() -> None:
    deck = introspect_deck(module_with(Watched=Watched, watched=Watched()))
    mode = deck.property("watched", "mode")
    assert mode.convert("fast") == "fast"
    with pytest.raises(InvalidInput):
        mode.convert("medium")
    mode.set("slow")
    assert mode.get() == "slow"
    with pytest.raises(InvalidInput) as caught:
        deck.property("watched", "temperature").convert(1.0)
    assert caught.value.code == "READ_ONLY"


def test_a_setter_json_cannot_feed_makes_the_property_read_only() -> None:
    deck = introspect_deck(module_with(Watched=Watched, watched=Watched()))
    sink = deck.schema.instruments["watched"].properties["sink"]
    assert sink.settable is False
    assert "Cannot be set from JSON: type BinaryIO" in sink.doc


def test_the_ivoryos_deck_property_has_a_setter(ivoryos_deck: Deck) -> None:
    temperature = ivoryos_deck.property("pump", "temperature")
    assert temperature.schema.settable is True
    temperature.set(temperature.convert("21.5"))
    assert temperature.get() == 21.5


# --- never crash ----------------------------------------------------------------------------


class AnswersEverything:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: name

    def ping(self) -> str:
        return "pong"


class RefusesDir:
    def __dir__(self) -> list[str]:
        raise RuntimeError("no dir")

    def ping(self) -> str:
        return "pong"


class RefusesEverything:
    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")

    def ping(self) -> str: ...  # type: ignore[empty-body]


class NoDictMeta(type):
    @property
    def __dict__(cls) -> Any:  # type: ignore[override]
        raise RuntimeError("class dictionary unavailable")


class Unreadable(metaclass=NoDictMeta):
    def ping(self) -> None: ...


class BadDescriptor:
    def __get__(self, obj: Any, owner: Any) -> Any:
        raise RuntimeError("descriptor exploded")

    def __call__(self) -> None: ...


class Partly:
    broken = BadDescriptor()

    def fine(self) -> None: ...


def test_proxies_and_hostile_objects_are_introspected_from_their_class() -> None:
    deck = introspect_deck(
        module_with(
            AnswersEverything=AnswersEverything,
            RefusesDir=RefusesDir,
            RefusesEverything=RefusesEverything,
            proxy=AnswersEverything(),
            nodir=RefusesDir(),
            hostile=RefusesEverything(),
        )
    )
    for name in ("proxy", "nodir", "hostile"):
        assert list(deck.schema.instruments[name].methods) == ["ping"]


def test_an_object_whose_class_cannot_be_read_is_skipped_with_the_reason() -> None:
    deck = introspect_deck(module_with(Unreadable=Unreadable, unreadable=Unreadable()))
    assert deck.schema.instruments == {}
    (skipped,) = deck.schema.skipped
    assert skipped.name == "unreadable"
    assert "class dictionary unavailable" in skipped.reason


def test_a_member_that_fails_is_listed_as_not_callable() -> None:
    deck = introspect_deck(module_with(Partly=Partly, partly=Partly()))
    methods = deck.schema.instruments["partly"].methods
    assert methods["fine"].callable is True
    assert methods["broken"].callable is False
    assert "descriptor exploded" in (methods["broken"].reason or "")
    with pytest.raises(InvalidInput) as caught:
        deck.method("partly", "broken").convert({})
    assert caught.value.code == "NOT_CALLABLE"


def test_a_mock_can_be_exposed_without_hanging() -> None:
    module = module_with(mock=unittest.mock.MagicMock())
    assert introspect_deck(module).schema.instruments == {}  # stdlib object: silently skipped
    deck = introspect_deck(module, expose=["mock"])
    assert "assert_called_with" in deck.schema.instruments["mock"].methods


# --- fingerprint ----------------------------------------------------------------------------


MOVER = """
class Mover:
    def move(self, x: {type}) -> None:
        '''Move.'''

mover = Mover()
"""


def test_fingerprint_is_stable_and_changes_when_a_method_is_retyped(deck_dir: Path) -> None:
    def fingerprint_of(folder: str, hint: str) -> str:
        # Same module name each time, as after a restart of the same deck file.
        sys.modules.pop("intro_mover", None)
        path = write(deck_dir / folder, "intro_mover.py", MOVER.format(type=hint))
        return introspect_deck(load_deck_module(str(path))).fingerprint

    first = fingerprint_of("a", "int")
    assert len(first) == 16
    assert fingerprint_of("b", "int") == first
    assert fingerprint_of("c", "float") != first
    assert fingerprint_of("d", "int") == first


def test_name_overrides_the_module_name(ivoryos_deck: Deck) -> None:
    assert ivoryos_deck.name == "ivoryos_style_deck"
    assert introspect_deck(ivoryos_deck.module, name="bench").name == "bench"


# --- PyLabRobot -----------------------------------------------------------------------------


def test_pylabrobot_deck_is_introspected_with_async_methods() -> None:
    module = load_deck_module(str(DECKS / "plr_deck.py"))
    deck = introspect_deck(module, expose=["lh", "plate_reader"])
    lh = deck.schema.instruments["lh"]
    reader = deck.schema.instruments["plate_reader"]
    assert lh.methods["setup"].async_ is True
    assert reader.methods["read_absorbance"].async_ is True
    assert reader.methods["read_absorbance"].callable is True
    assert reader.methods["read_absorbance"].accepts_extra is True  # **backend_kwargs
    assert "wavelength" in reader.methods["read_absorbance"].params_schema["required"]
    aspirate = lh.methods["aspirate"]
    assert aspirate.callable is False
    assert "parameter 'resources'" in (aspirate.reason or "")
    assert lh.properties["setup_finished"].settable is False
