"""Decks written for other tools, through the HTTP API: an IvoryOS-style deck and PyLabRobot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labdeck.app import create_app
from labdeck.deck.introspect import introspect_deck
from labdeck.deck.load import load_deck_module
from labdeck.services import Services

DECKS = Path(__file__).resolve().parents[1] / "decks"


def client_for(
    services: Services, operator_headers_factory: Callable[[Services], dict[str, str]]
) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        client.headers.update(operator_headers_factory(services))
        yield client


def _operator(services: Services) -> dict[str, str]:
    from tests.conftest import bearer_for

    return bearer_for(services, "olga", "operator")


@pytest.fixture
def ivoryos_module():
    return load_deck_module(str(DECKS / "ivoryos_style_deck.py"))


@pytest.fixture
def ivoryos_client(make_services, ivoryos_module) -> Iterator[TestClient]:
    services = make_services(introspect_deck(ivoryos_module))
    yield from client_for(services, _operator)


def run(client: TestClient, target: str, **args: object) -> dict:
    instrument, method = target.split(".")
    response = client.post(f"/api/instruments/{instrument}/{method}", json={"args": args})
    assert response.status_code == 200, response.text
    return response.json()


def test_ivoryos_deck_exposes_instruments_but_not_constants_locks_or_loggers(
    ivoryos_client: TestClient,
) -> None:
    deck = ivoryos_client.get("/api/deck").json()
    assert set(deck["instruments"]) == {"pump", "balance"}
    assert set(deck["functions"]) == {"wash"}
    for hidden in ("logger", "lock", "MAX_VOLUME_ML", "PORTS", "sqrt", "Solvent"):
        assert hidden not in deck["instruments"]
        assert hidden not in deck["functions"]
    measure = deck["instruments"]["pump"]["methods"]["measure"]
    assert measure["returns"]["kind"] == "tuple"
    assert measure["returns"]["arity"] == 2


def test_optional_enum_by_name_reaches_the_driver_as_a_member(
    ivoryos_client: TestClient, ivoryos_module
) -> None:
    body = run(ivoryos_client, "pump.dose", volume_ml="2.5", solvent="ETHANOL")
    assert body["status"] == "completed"
    assert body["output"] == 2.5
    assert ivoryos_module.pump.dosed[-1] == (2.5, ivoryos_module.Solvent.ETHANOL)
    run(ivoryos_client, "pump.dose", volume_ml=1, solvent=None)
    assert ivoryos_module.pump.dosed[-1] == (1.0, None)
    run(ivoryos_client, "pump.dose", volume_ml=1, solvent="acetone")
    assert ivoryos_module.pump.dosed[-1] == (1.0, ivoryos_module.Solvent.ACETONE)


def test_ivoryos_deck_types_errors_sleep_async_and_untyped(ivoryos_client: TestClient) -> None:
    assert run(ivoryos_client, "pump.select_port", port="2")["output"] == 2
    assert run(ivoryos_client, "pump.measure")["output"] == [1.0, 2.0]
    assert (
        run(ivoryos_client, "pump.dose_sequence", volumes=[1, "2"], solvents=["WATER"])["output"]
        == 3
    )
    jammed = run(ivoryos_client, "pump.jam")
    assert jammed["status"] == "failed"
    assert jammed["error"]["code"] == "UNHANDLED_EXCEPTION"
    assert jammed["error"]["message"] == "syringe blocked"
    assert run(ivoryos_client, "pump.settle")["status"] == "completed"
    assert run(ivoryos_client, "pump.prime", cycles=3)["output"] == "primed 3"
    assert run(ivoryos_client, "balance.weigh", samples=4)["output"] == 6.0
    wrong = ivoryos_client.post("/api/instruments/pump/select_port", json={"args": {"port": 7}})
    assert wrong.status_code == 422
    function = ivoryos_client.post("/api/functions/wash", json={"args": {"solvent": "ETHANOL"}})
    assert function.json()["output"] == "2 x ethanol"


def test_ivoryos_deck_property_with_setter(ivoryos_client: TestClient) -> None:
    # The deck module is shared with other tests: set a value before reading it back.
    path = "/api/instruments/pump/properties/temperature"
    for value, expected in (("37.5", 37.5), (21, 21.0)):
        assert ivoryos_client.put(path, json={"value": value}).json()["status"] == "completed"
        assert ivoryos_client.get(path).json()["output"] == expected


@pytest.fixture
def plr_client(make_services) -> Iterator[TestClient]:
    module = load_deck_module(str(DECKS / "plr_deck.py"))
    services = make_services(introspect_deck(module, expose=["lh", "plate_reader"]))
    yield from client_for(services, _operator)


def test_pylabrobot_deck_is_callable_on_one_long_lived_loop(plr_client: TestClient) -> None:
    deck = plr_client.get("/api/deck").json()
    assert set(deck["instruments"]) == {"lh", "plate_reader"}
    methods = deck["instruments"]["lh"]["methods"]
    assert methods["setup"]["async"] is True
    assert methods["pick_up_tips"]["callable"] is False
    assert methods["pick_up_tips"]["reason"]

    finished = "/api/instruments/lh/properties/setup_finished"
    assert plr_client.get(finished).json()["output"] is False
    assert run(plr_client, "lh.setup")["status"] == "completed"
    assert plr_client.get(finished).json()["output"] is True
    assert run(plr_client, "plate_reader.setup")["status"] == "completed"
    # Later async calls run on the executor's loop, where setup created the backends' state.
    opened = run(plr_client, "plate_reader.open")
    assert opened["status"] == "completed", opened["error"]
    assert run(plr_client, "lh.stop")["status"] == "completed"

    refused = plr_client.post("/api/instruments/lh/pick_up_tips", json={"args": {}})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "NOT_CALLABLE"
