"""Remote instruments: mounting another server's schema, calls, busy retries, error mapping.

Server B is the demo lab served in-process (its app behind an httpx transport), or a scripted
httpx.MockTransport where exact answers and timings matter. Server A is a deck module that
mounts B's instruments with `labdeck.remote`, introspected and served in-process too. Two
real servers on loopback are in tests/test_remote_servers.py.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from labdeck import remote as exported_remote
from labdeck.app import create_app
from labdeck.deck import remote_http
from labdeck.deck.bindings import Deck
from labdeck.deck.introspect import introspect_deck
from labdeck.deck.remote import RemoteLab, remote
from labdeck.deck.remote_http import RemoteCallError, RemoteMountError
from labdeck.errors import InstrumentError, InvalidInput, error_from_exception
from labdeck.services import Services
from tests.conftest import ADMIN_PASSWORD, bearer_for
from tests.server_process import free_port

MOUNTED = ["spectrometer", "broken_pump", "flaky_sensor", "slow_stage"]


class AppTransport(httpx.BaseTransport):
    """httpx requests answered by an in-process app (through its TestClient)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(
            request.method,
            request.url.path,
            headers={
                name: request.headers[name]
                for name in ("Authorization", "Content-Type")
                if name in request.headers
            },
            content=request.read(),
        )
        return httpx.Response(
            answer.status_code,
            headers={"Content-Type": answer.headers.get("Content-Type", "")},
            content=answer.content,
        )


@pytest.fixture(autouse=True)
def _restore_demo_settings() -> Iterator[None]:
    """The demo deck is shared by the session: put back the settings these tests change."""
    import labdeck.demo.deck as demo

    mode, failure_rate = demo.spectrometer.mode, demo.flaky_sensor.failure_rate
    yield
    demo.spectrometer.set_mode(mode)
    demo.flaky_sensor.failure_rate = failure_rate


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def lab_b(app_client: TestClient, admin_headers: dict[str, str]) -> Iterator[RemoteLab]:
    """The demo lab's instruments, mounted from its in-process server B."""
    lab = remote(
        "http://testserver",
        token_of(admin_headers),
        MOUNTED,
        busy_timeout_s=0.5,
        transport=AppTransport(app_client),
    )
    yield lab
    lab.close()


def deck_mounting(lab: RemoteLab, **names: str) -> Deck:
    """A's deck: a module holding the lab and its instruments under the given names."""
    module = types.ModuleType("lab_a")
    module.lab_b = lab  # type: ignore[attr-defined]
    for attr, name in names.items():
        setattr(module, attr, lab[name])
    return introspect_deck(module)


@pytest.fixture
def deck_a(lab_b: RemoteLab) -> Deck:
    return deck_mounting(
        lab_b,
        spectrometer_b="spectrometer",
        pump_b="broken_pump",
        sensor_b="flaky_sensor",
    )


@pytest.fixture
def services_a(make_services: Callable[..., Services], deck_a: Deck, tmp_path: Path) -> Services:
    return make_services(deck_a, data_dir=tmp_path / "a")


@pytest.fixture
def client_a(services_a: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services_a)) as client:
        client.headers.update(bearer_for(services_a, "admin", "admin"))
        yield client


# --- mounting -------------------------------------------------------------------------------


def test_labdeck_exports_remote() -> None:
    assert exported_remote is remote


def test_a_mounted_instrument_has_the_remote_schema_under_its_name_here(
    deck_a: Deck, services: Services
) -> None:
    remote_schema = services.deck.schema.instruments["spectrometer"]
    mounted = deck_a.schema.instruments["spectrometer_b"]
    assert set(deck_a.schema.instruments) == {"spectrometer_b", "pump_b", "sensor_b"}
    assert mounted.class_ == remote_schema.class_
    assert mounted.doc == remote_schema.doc
    assert mounted.properties == remote_schema.properties
    assert mounted.methods.keys() == remote_schema.methods.keys()
    for name, method in mounted.methods.items():
        # Everything as published, except that a remote call is a sync request here.
        assert method.async_ is False
        assert method.model_dump(exclude={"async_"}) == remote_schema.methods[name].model_dump(
            exclude={"async_"}
        )
    mode = mounted.methods["set_mode"].params_schema["properties"]["mode"]
    assert mode["enum"] == ["absorbance", "transmittance"]  # a Literal, preserved
    wavelength = mounted.methods["measure"].params_schema["properties"]["wavelength_nm"]
    assert (wavelength["minimum"], wavelength["maximum"]) == (200, 800)
    assert deck_a.method("spectrometer_b", "measure").target == "spectrometer_b.measure"
    # The lab object itself is not an instrument: skipped with a note saying why.
    skipped = {s.name: s.reason for s in deck_a.schema.skipped}
    assert "instruments are mounted where they are assigned" in skipped["lab_b"]
    assert deck_a.fingerprint


def test_an_unreachable_server_fails_the_deck_load_naming_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RemoteMountError, match=f"cannot mount instruments from {url}: no answer"):
        remote(url, "token", ["spectrometer"], connect_timeout_s=2)


def test_a_refused_token_fails_the_deck_load(app_client: TestClient) -> None:
    with pytest.raises(RemoteMountError, match=r"it refused the token .*HTTP 401"):
        remote("http://testserver", "not-a-token", transport=AppTransport(app_client))


def test_an_unknown_instrument_lists_what_the_server_has(
    app_client: TestClient, admin_headers: dict[str, str]
) -> None:
    with pytest.raises(RemoteMountError) as caught:
        remote(
            "http://testserver",
            token_of(admin_headers),
            ["spectrometer", "microscope"],
            transport=AppTransport(app_client),
        )
    message = str(caught.value)
    assert "(deck 'labdeck.demo.deck') has no instrument 'microscope'" in message
    assert "it has: dispenser, balance, hotplate, spectrometer" in message


def test_a_server_that_is_not_labdeck_is_refused() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=[1, 2]))
    with pytest.raises(RemoteMountError, match="is this the URL of a labdeck server"):
        remote("http://other", "token", transport=transport)


def test_instruments_must_be_a_list_and_a_token_is_required() -> None:
    with pytest.raises(TypeError, match=r"e.g. \['spectrometer'\]"):
        remote("http://b", "token", "spectrometer")
    with pytest.raises(RemoteMountError, match="no token given"):
        remote("http://b", "", ["spectrometer"])


# --- arguments ------------------------------------------------------------------------------


def test_arguments_are_checked_here_against_the_schema_and_sent_as_given(deck_a: Deck) -> None:
    measure = deck_a.method("spectrometer_b", "measure")
    bound = measure.convert({"wavelength_nm": "450"})
    # Not converted here: the remote server converts with its own types.
    assert (bound.args, bound.kwargs, bound.recorded) == (
        (),
        {"wavelength_nm": "450"},
        bound.kwargs,
    )
    with pytest.raises(InvalidInput) as caught:
        measure.convert({"wavelength_nm": 900, "gain": 2})
    assert caught.value.message == "invalid arguments for spectrometer_b.measure"
    assert caught.value.detail["fields"] == [
        {
            "field": "wavelength_nm",
            "message": "must be at most 800, not 900",
            "type": "value_error",
        },
        {"field": "gain", "message": "Extra inputs are not permitted", "type": "extra_forbidden"},
    ]
    with pytest.raises(InvalidInput) as caught:
        deck_a.method("spectrometer_b", "set_mode").convert({})
    assert caught.value.detail["fields"][0]["type"] == "missing"
    with pytest.raises(InvalidInput) as caught:
        deck_a.property("sensor_b", "failure_rate").convert("lots")
    assert caught.value.detail["fields"][0]["field"] == "value"
    with pytest.raises(InvalidInput, match="read-only"):
        deck_a.property("spectrometer_b", "mode").convert("absorbance")


def test_a_direct_call_with_a_bad_literal_is_refused_here_like_a_local_one(
    client_a: TestClient,
) -> None:
    response = client_a.post(
        "/api/instruments/spectrometer_b/set_mode", json={"args": {"mode": "fluorescence"}}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert error["detail"]["fields"][0]["field"] == "mode"
    assert "must be one of" in error["detail"]["fields"][0]["message"]


# --- calls ----------------------------------------------------------------------------------


def test_a_direct_call_here_runs_on_the_remote_server_and_is_recorded_on_both(
    client_a: TestClient, client: TestClient
) -> None:
    response = client_a.post(
        "/api/instruments/spectrometer_b/measure", json={"args": {"integration_ms": 10}}
    )
    assert response.status_code == 200, response.text
    call = response.json()
    assert call["status"] == "completed", call["error"]
    assert call["target"] == "spectrometer_b.measure"
    reading, peak_nm = call["output"]
    assert isinstance(reading, float)
    assert isinstance(peak_nm, float)
    on_b = client.get("/api/calls", params={"target": "spectrometer.measure"}).json()["items"]
    assert [(c["args"], c["output"], c["user"]) for c in on_b] == [
        ({"integration_ms": 10}, call["output"], "admin")
    ]


def test_properties_are_read_and_set_through_the_remote_server(
    client_a: TestClient, services: Services
) -> None:
    read = client_a.get("/api/instruments/spectrometer_b/properties/mode").json()
    assert (read["status"], read["output"]) == ("completed", "absorbance")
    written = client_a.put(
        "/api/instruments/sensor_b/properties/failure_rate", json={"value": 0.5}
    ).json()
    assert written["status"] == "completed", written
    assert services.deck.instrument("flaky_sensor").obj.failure_rate == 0.5


def test_a_call_that_failed_there_keeps_its_code_and_gets_provider_status_200(
    client_a: TestClient, services_a: Services
) -> None:
    call = client_a.post("/api/instruments/pump_b/pump", json={"args": {"volume_ml": 1}}).json()
    assert call["status"] == "failed"
    assert call["error"]["code"] == "PRESSURE_HIGH"
    assert call["error"]["message"] == "line pressure above 4 bar"
    assert call["error"]["retryable"] is False
    recorded = services_a.control.get_call(call["id"]).error
    assert recorded is not None
    assert recorded["provider_status"] == 200
    # The remote call is named in the traceback text, to find its own record there.
    assert "at http://testserver" in recorded["detail"]["traceback"]
    retryable = client_a.post("/api/instruments/pump_b/reconnect", json={"args": {}}).json()
    assert (retryable["error"]["code"], retryable["error"]["retryable"]) == ("CONNECTION", True)


def test_the_devices_page_shows_and_calls_mounted_instruments(services_a: Services) -> None:
    with TestClient(create_app(services_a)) as browser:
        signed_in = browser.post(
            "/login",
            data={"username": "admin", "password": ADMIN_PASSWORD, "next": "/devices"},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        page = browser.get("/devices").text
        assert 'id="m-spectrometer_b-set_mode"' in page
        assert "transmittance" in page  # the Literal's choices, from B's schema
        done = browser.post(
            "/devices/instruments/spectrometer_b/set_mode", data={"mode": '"transmittance"'}
        )
        assert done.status_code == 200
        assert "completed" in done.text
        refused = browser.post(
            "/devices/instruments/spectrometer_b/measure", data={"wavelength_nm": "900"}
        )
        assert refused.status_code == 422
        assert "must be at most 800" in refused.text


def test_python_code_calls_remote_methods_and_properties(lab_b: RemoteLab) -> None:
    spectrometer = lab_b.spectrometer
    assert spectrometer.mode == "absorbance"
    reading, _peak = spectrometer.measure(450, integration_ms=10)
    assert isinstance(reading, float)
    lab_b.flaky_sensor.failure_rate = 0.25
    assert lab_b.flaky_sensor.failure_rate == 0.25
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        spectrometer.measure(450, 10, 1)
    with pytest.raises(TypeError, match="multiple values for wavelength_nm"):
        spectrometer.measure(450, wavelength_nm=500)
    with pytest.raises(AttributeError, match="not a settable property"):
        spectrometer.mode = "transmittance"
    with pytest.raises(AttributeError, match="has no member 'calibrate'"):
        _ = spectrometer.calibrate
    with pytest.raises(AttributeError, match=r"no instrument 'balance' mounted .*\(mounted: spec"):
        _ = lab_b.balance


def test_the_remote_servers_refusal_keeps_its_status_and_field_problems(lab_b: RemoteLab) -> None:
    with pytest.raises(RemoteCallError) as caught:
        lab_b.spectrometer.measure(wavelength_nm=5000)
    error = caught.value
    assert (error.code, error.status, error.retryable) == ("INVALID_INPUT", 422, False)
    assert "wavelength_nm: Input should be less than or equal to 800" in error.message
    structured = error_from_exception(error)
    assert (structured.code, structured.provider_status) == ("INVALID_INPUT", 422)


def test_a_workflow_here_is_validated_against_the_remote_schema_and_runs(
    client_a: TestClient,
) -> None:
    document: dict[str, Any] = {
        "format": "labdeck.workflow/1",
        "name": "remote read",
        "outputs": ["reading"],
        "script": [
            {
                "id": "mode",
                "kind": "call",
                "target": "spectrometer_b.set_mode",
                "args": {"mode": "fluorescence"},
            },
        ],
    }
    created = client_a.post("/api/workflows", json=document).json()
    problems = {p["step"]: p for p in created["problems"]}
    assert problems["mode"]["field"] == "args.mode"
    assert "must be one of" in problems["mode"]["message"]
    document["script"] = [
        {
            "id": "mode",
            "kind": "call",
            "target": "spectrometer_b.set_mode",
            "args": {"mode": "transmittance"},
        },
        {
            "id": "read",
            "kind": "call",
            "target": "spectrometer_b.measure",
            "args": {"integration_ms": 10},
            "save": ["reading", None],
        },
    ]
    updated = client_a.put(f"/api/workflows/{created['id']}/draft", json=document).json()
    assert updated["problems"] == []
    assert client_a.post(f"/api/workflows/{created['id']}/publish").status_code == 201
    run = client_a.post("/api/runs", json={"workflow": "remote read"}).json()
    deadline = 100
    while run["status"] not in ("completed", "failed", "paused") and deadline:
        run = client_a.get(f"/api/runs/{run['id']}").json()
        deadline -= 1
        time.sleep(0.05)
    assert run["status"] == "completed", run


# --- busy retries and connection problems (scripted server) ---------------------------------


class FakeClock:
    """`time` for remote_http: sleeping advances a virtual clock and is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def scripted(
    services: Services, answers: Iterator[httpx.Response | Exception]
) -> tuple[RemoteLab, list[httpx.Request]]:
    """A lab whose schema is the demo's and whose calls get the scripted answers in order."""
    schema = services.deck.schema.model_dump(mode="json")
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/deck":
            return httpx.Response(200, json=schema)
        requests.append(request)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    lab = remote(
        "http://b", "token", ["slow_stage"], busy_timeout_s=3, transport=httpx.MockTransport(handle)
    )
    return lab, requests


def busy() -> httpx.Response:
    error = {"code": "INSTRUMENT_BUSY", "message": "the deck is busy", "retryable": True}
    return httpx.Response(409, json={"error": {**error, "detail": {}}})


def completed(output: Any) -> httpx.Response:
    return httpx.Response(200, json={"id": "7", "status": "completed", "output": output})


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(remote_http, "time", fake)
    return fake


def test_a_busy_remote_server_is_retried_with_backoff_until_it_answers(
    services: Services, clock: FakeClock
) -> None:
    lab, requests = scripted(services, iter([busy(), busy(), busy(), completed(12.5)]))
    assert lab.slow_stage.move_to(12.5) == 12.5
    assert clock.sleeps == [0.1, 0.2, 0.4]
    assert len(requests) == 4
    assert requests[0].headers["Authorization"] == "Bearer token"
    assert requests[0].url.path == "/api/instruments/slow_stage/move_to"
    assert requests[0].read() == b'{"args":{"position_mm":12.5}}'


def test_a_server_busy_past_the_timeout_gives_a_retryable_busy_error(
    services: Services, clock: FakeClock
) -> None:
    lab, requests = scripted(services, iter([busy()] * 100))
    with pytest.raises(RemoteCallError) as caught:
        lab.slow_stage.home()
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.5]  # the last one up to the deadline
    assert len(requests) == 6
    error = caught.value
    assert (error.code, error.retryable, error.status) == ("INSTRUMENT_BUSY", True, 409)
    assert "slow_stage.home at http://b stayed busy for 3 s" in error.message
    structured = error_from_exception(error)
    assert (structured.code, structured.retryable, structured.provider_status) == (
        "INSTRUMENT_BUSY",
        True,
        409,
    )


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (httpx.ConnectError("refused"), "could not reach http://b: refused"),
        (httpx.RemoteProtocolError("Server disconnected"), "lost the connection to http://b"),
        (httpx.ReadError("reset by peer"), "lost the connection to http://b (reset by peer)"),
        (httpx.ReadTimeout("timed out"), "no answer from http://b within 600 s"),
    ],
)
def test_connection_problems_are_retryable_connection_errors_without_a_status(
    services: Services, problem: Exception, message: str
) -> None:
    lab, _requests = scripted(services, iter([problem]))
    with pytest.raises(RemoteCallError) as caught:
        lab.slow_stage.home()
    assert message in caught.value.message
    assert isinstance(caught.value, InstrumentError)
    structured = error_from_exception(caught.value)
    assert (structured.code, structured.retryable, structured.provider_status) == (
        "CONNECTION",
        True,
        None,
    )


def test_refusals_keep_the_remote_code_and_http_status(services: Services) -> None:
    revoked = {"code": "NOT_AUTHENTICATED", "message": "token revoked", "retryable": False}
    lab, _requests = scripted(
        services,
        iter(
            [
                httpx.Response(401, json={"error": {**revoked, "detail": {}}}),
                httpx.Response(502, text="bad gateway"),
                httpx.Response(200, json={"ok": True}),
            ]
        ),
    )
    for code, status, retryable in (
        ("NOT_AUTHENTICATED", 401, False),
        ("HTTP_ERROR", 502, True),
        ("BAD_RESPONSE", 200, False),
    ):
        with pytest.raises(RemoteCallError) as caught:
            lab.slow_stage.home()
        assert (caught.value.code, caught.value.status, caught.value.retryable) == (
            code,
            status,
            retryable,
        )
