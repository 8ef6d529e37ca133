"""The proxy generator on a deck with awkward hints and names (no server: a mock transport)."""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import textwrap
import typing
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from labdeck.client import RemoteInstrumentError
from labdeck.client.proxy_gen import generate_proxy, proxy_filename
from labdeck.deck.schema import InterfaceSchema
from labdeck.server import load_deck

DECK = textwrap.dedent(
    '''
    """A deck with every kind of hint the proxy must rebuild."""

    import enum
    import math
    from typing import Literal, Optional


    class Speed(enum.IntEnum):
        SLOW = 1
        FAST = 2


    class Colour(enum.Enum):
        RED = "red"
        GREEN = "green"


    class Gadget:
        """A gadget with \\\\d backslashes and \\"\\"\\" quotes."""

        def __init__(self) -> None:
            self._colour = Colour.RED

        @property
        def colour(self) -> Colour:
            """The colour."""
            return self._colour

        @colour.setter
        def colour(self, value: Colour) -> None:
            self._colour = value

        def tune(
            self,
            level: Literal[1, 2, 3],
            speed: Speed = Speed.FAST,
            *,
            tags: list[str] | None = None,
            weights: dict[str, float] | None = None,
            note: Optional[str] = None,
        ) -> list[int]:
            """Tune it.

            Args:
                level: How much.
                tags: Labels,
                    on two lines.
            """
            return [level, int(speed)]

        def pos_only(self, a: int, /, b: bool = True) -> tuple[int, bool]:
            return a, b

        def extra(self, x: int, **options: float) -> dict[str, float]:
            return {"x": float(x), **options}

        def at(self, when: float = math.inf) -> float:
            """Says "when"."""
            return when

        def needs_class(self, kind: type) -> None:
            """Cannot be called from JSON."""

        def close(self) -> str:
            return "closed"


    deck = Gadget()
    close = Gadget()
    colour = Gadget()


    def connection(self: int = 1, colour: Colour | None = None) -> int:
        """A function with awkward names."""
        return self
    '''
)


@pytest.fixture
def schema(tmp_path: Path) -> InterfaceSchema:
    name = f"awkward_deck_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(DECK)
    try:
        return load_deck(str(path)).schema
    finally:
        sys.modules.pop(name, None)


def import_source(source: str, folder: Path, name: str) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclass-free, but Enum pickling and hints look it up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def proxy(schema: InterfaceSchema, tmp_path: Path) -> Iterator[Any]:
    name = f"awkward_proxy_{uuid.uuid4().hex[:8]}"
    try:
        yield import_source(generate_proxy(schema), tmp_path, name)
    finally:
        sys.modules.pop(name, None)


Sent = list[tuple[str, str, Any]]


def mock_deck(proxy: Any, answer: Callable[[httpx.Request], httpx.Response]) -> Any:
    return proxy.Deck("http://lab", "secret", transport=httpx.MockTransport(answer))


def recording(sent: Sent, output: Any = None) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        sent.append((request.method, request.url.path, body))
        assert request.headers["authorization"] == "Bearer secret"
        return httpx.Response(200, json={"id": "7", "status": "completed", "output": output})

    return answer


def test_names_are_made_unique_and_python_safe(proxy: Any) -> None:
    assert proxy.DeckInstrument._name == "deck"  # `Deck` is the whole deck
    assert proxy.ColourInstrument._name == "colour"  # `Colour` is the Enum
    assert [member.value for member in proxy.Colour] == ["red", "green"]
    assert issubclass(proxy.Speed, int)
    assert proxy.Speed.FAST == 2
    assert typing.get_args(proxy.SpeedValue) == (1, 2)
    deck = proxy.Deck("http://lab", None)
    assert isinstance(deck.close_, proxy.Close)  # `close` closes the connection
    assert deck.colour._name == "colour"
    assert not hasattr(proxy.DeckInstrument, "needs_class")
    assert "needs_class" in proxy.DeckInstrument.__doc__
    assert proxy.DeckInstrument.__doc__.count('"""') == 1  # the driver's docstring, unescaped
    assert proxy.DECK_NAME.startswith("awkward_deck_")
    deck.close()


def test_signatures_keep_kinds_defaults_and_hints(proxy: Any) -> None:
    tune = inspect.signature(proxy.DeckInstrument.tune)
    assert [p.kind.name for p in tune.parameters.values()] == [
        "POSITIONAL_OR_KEYWORD",
        "POSITIONAL_OR_KEYWORD",
        "POSITIONAL_OR_KEYWORD",
        "KEYWORD_ONLY",
        "KEYWORD_ONLY",
        "KEYWORD_ONLY",
    ]
    assert tune.parameters["speed"].default is proxy.Speed.FAST
    hints = typing.get_type_hints(proxy.DeckInstrument.tune)
    assert hints["level"] == typing.Literal[1, 2, 3]
    assert hints["tags"] == list[str] | None
    assert hints["weights"] == dict[str, float] | None
    assert hints["return"] == list[int]
    assert set(typing.get_args(hints["speed"])) == {proxy.Speed, typing.Literal[1, 2]}
    pos_only = inspect.signature(proxy.DeckInstrument.pos_only).parameters["a"]
    assert pos_only.kind is inspect.Parameter.POSITIONAL_ONLY
    assert typing.get_type_hints(proxy.DeckInstrument.pos_only)["return"] == tuple[int, bool]
    assert inspect.signature(proxy.DeckInstrument.at).parameters["when"].default is proxy.DEFAULT
    assert "on two lines" in proxy.DeckInstrument.tune.__doc__
    assert typing.get_type_hints(proxy.DeckInstrument.colour.fget)["return"] == proxy.ColourValue


def test_calls_send_json_values_and_leave_out_defaults_they_cannot_write(proxy: Any) -> None:
    sent: Sent = []
    with mock_deck(proxy, recording(sent, output=[1, 2])) as deck:
        deck.deck.tune(2, tags=("a",))
        assert deck.deck.pos_only(3) == (1, 2)  # JSON lists come back as tuples where promised
        deck.deck.at()
        deck.deck.extra(1, gain=0.5)
        deck.connection_(self_=2, colour=proxy.Colour.GREEN)
        deck.close_.close()
        deck.colour.colour = proxy.Colour.GREEN
        deck.deck.colour = "red"
        deck.colour.colour
    assert sent == [
        (
            "POST",
            "/api/instruments/deck/tune",
            {"args": {"level": 2, "speed": 2, "tags": ["a"], "weights": None, "note": None}},
        ),
        ("POST", "/api/instruments/deck/pos_only", {"args": {"a": 3, "b": True}}),
        ("POST", "/api/instruments/deck/at", {"args": {}}),
        ("POST", "/api/instruments/deck/extra", {"args": {"x": 1, "gain": 0.5}}),
        ("POST", "/api/functions/connection", {"args": {"self": 2, "colour": "green"}}),
        ("POST", "/api/instruments/close/close", {"args": {}}),
        ("PUT", "/api/instruments/colour/properties/colour", {"value": "green"}),
        ("PUT", "/api/instruments/deck/properties/colour", {"value": "red"}),
        ("GET", "/api/instruments/colour/properties/colour", None),
    ]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            409,
            {"error": {"code": "INSTRUMENT_BUSY", "message": "busy", "retryable": True}},
            ("INSTRUMENT_BUSY", True, 409),
        ),
        (502, "<html>bad gateway</html>", ("HTTP_ERROR", False, 502)),
        (
            200,
            {
                "id": "9",
                "status": "failed",
                "error": {"code": "JAMMED", "message": "jammed", "retryable": False},
            },
            ("JAMMED", False, 200),
        ),
    ],
)
def test_answers_become_remote_instrument_errors(
    proxy: Any, status: int, body: Any, expected: tuple[str, bool, int]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    with mock_deck(proxy, answer) as deck, pytest.raises(RemoteInstrumentError) as caught:
        deck.deck.close()
    assert (caught.value.code, caught.value.retryable, caught.value.status) == expected
    if status == 200:
        assert caught.value.detail == {"call_id": "9"}


def test_a_deck_without_instruments_still_makes_a_module(tmp_path: Path) -> None:
    empty = InterfaceSchema(name="0 empty-deck", fingerprint="abc")
    assert proxy_filename(empty.name) == "deck_0_empty_deck_proxy.py"
    source = generate_proxy(empty)
    assert "Literal" not in source.split("import httpx")[0]
    name = f"empty_proxy_{uuid.uuid4().hex[:8]}"
    try:
        module = import_source(source, tmp_path, name)
    finally:
        sys.modules.pop(name, None)
    assert module.FINGERPRINT == "abc"
    assert module.__all__ == ["DEFAULT", "Connection", "Deck", "RemoteInstrumentError"]
    with module.Deck("http://lab", None) as deck:
        assert vars(deck).keys() == {"connection"}
