"""The browser pages through the real app: sign-in, the Devices page and its fragments."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient

from labdeck.api.deps import SESSION_COOKIE
from labdeck.app import create_app
from labdeck.deck.bindings import Deck
from labdeck.services import Services
from tests.conftest import ADMIN_PASSWORD, ROLE_PASSWORD

DISPENSE = "/devices/instruments/dispenser/dispense"
HX = {"HX-Request": "true"}


def login(client: TestClient, username: str, password: str, next_path: str = "/devices"):
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": next_path},
        follow_redirects=False,
    )


def text_of(html: str) -> str:
    """The visible text of an HTML snippet, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def admin_client(app_client: TestClient) -> TestClient:
    assert login(app_client, "admin", ADMIN_PASSWORD).status_code == 303
    return app_client


@pytest.fixture
def operator_client(app_client: TestClient, services: Services) -> TestClient:
    services.auth.create_user("olga", ROLE_PASSWORD, "operator")
    assert login(app_client, "olga", ROLE_PASSWORD).status_code == 303
    return app_client


@pytest.fixture
def viewer_client(app_client: TestClient, services: Services) -> TestClient:
    services.auth.create_user("victor", ROLE_PASSWORD, "viewer")
    assert login(app_client, "victor", ROLE_PASSWORD).status_code == 303
    return app_client


def call_count(services: Services) -> int:
    records, _ = services.control.list_calls(limit=500)
    return len(records)


# --- signing in and out -------------------------------------------------------------------------


def test_login_page_renders_the_form(app_client: TestClient) -> None:
    response = app_client.get("/login?next=/devices")
    assert response.status_code == 200
    assert 'name="username"' in response.text
    assert 'name="password"' in response.text
    assert 'name="next" value="/devices"' in response.text


def test_login_sets_an_httponly_lax_session_cookie(app_client: TestClient) -> None:
    response = login(app_client, "admin", ADMIN_PASSWORD, "/devices?q=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/devices?q=1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    assert "secure" not in cookie.lower()  # plain http here
    assert app_client.get("/devices").status_code == 200


def test_cookie_is_secure_over_https(services: Services) -> None:
    with TestClient(create_app(services), base_url="https://testserver") as client:
        response = login(client, "admin", ADMIN_PASSWORD)
    assert "secure" in response.headers["set-cookie"].lower()


def test_login_rotates_the_session(app_client: TestClient, services: Services) -> None:
    login(app_client, "admin", ADMIN_PASSWORD)
    first = app_client.cookies[SESSION_COOKIE]
    login(app_client, "admin", ADMIN_PASSWORD)
    second = app_client.cookies[SESSION_COOKIE]
    assert first != second
    assert services.auth.resolve(first) is None  # the old session is revoked
    assert services.auth.resolve(second) is not None


def test_wrong_password_is_401_with_a_message(app_client: TestClient) -> None:
    response = login(app_client, "admin", "not-the-password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert 'value="admin"' in response.text  # the user name is kept
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_throttled_login_shows_its_message(app_client: TestClient) -> None:
    for _ in range(10):
        login(app_client, "admin", "wrong-password")
    response = login(app_client, "admin", ADMIN_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.text


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/%0d%0aSet-Cookie:x",
        "",
    ],
)
def test_next_never_leaves_the_site(app_client: TestClient, target: str) -> None:
    response = login(app_client, "admin", ADMIN_PASSWORD, target)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/")
    assert not location.startswith("//")
    if not target.startswith("/%"):
        assert location == "/"


def test_unauthenticated_pages_redirect_to_login(app_client: TestClient) -> None:
    response = app_client.get("/devices", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/devices"
    home = app_client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/devices"


def test_unauthenticated_fragment_asks_htmx_to_go_to_login(app_client: TestClient) -> None:
    response = app_client.post(
        DISPENSE,
        data={"volume_ml": "1"},
        headers={**HX, "HX-Current-URL": "http://testserver/devices"},
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/login?next=/devices"


def test_logout_revokes_the_session(admin_client: TestClient, services: Services) -> None:
    token = admin_client.cookies[SESSION_COOKIE]
    response = admin_client.post("/logout", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert services.auth.resolve(token) is None
    admin_client.cookies.set(SESSION_COOKIE, token)  # a copy of the old cookie is worthless
    assert admin_client.get("/devices", follow_redirects=False).status_code == 303


# --- the Devices page ---------------------------------------------------------------------------


def test_devices_page_lists_every_instrument_method_and_function(
    operator_client: TestClient, services: Services
) -> None:
    response = operator_client.get("/devices")
    assert response.status_code == 200
    html = response.text
    schema = services.deck.schema
    assert schema.instruments, "the demo deck has instruments"
    for name, instrument in schema.instruments.items():
        assert f'id="instrument-{name}"' in html
        assert instrument.class_.rsplit(".", 1)[-1] in html
        for method in instrument.methods:
            assert f'id="m-{name}-{method}-block"' in html
            assert f'hx-post="/devices/instruments/{name}/{method}"' in html
        for prop in instrument.properties:
            assert f'hx-get="/devices/instruments/{name}/properties/{prop}"' in html
    for function in schema.functions:
        assert f'hx-post="/devices/functions/{function}"' in html
    assert "Deck functions" in html
    assert html.count("badge-async") >= 5  # the plate reader's methods


def test_devices_page_shell(operator_client: TestClient, services: Services) -> None:
    html = operator_client.get("/devices").text
    assert services.deck.fingerprint in html
    assert "olga" in html
    assert "operator" in html
    assert 'action="/logout"' in html
    assert 'href="/api/docs"' in html
    assert '<a href="/design"' in html
    assert '<a href="/execute"' in html
    assert '<a href="/data/runs"' in html
    # No inline scripts or handlers: the page works under a strict CSP.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_forms_follow_the_widget_rules(operator_client: TestClient) -> None:
    html = operator_client.get("/devices").text
    form = html[
        html.index('id="m-dispenser-dispense"') : html.index('id="m-dispenser-prime-block"')
    ]
    assert re.search(r'type="number" id="m-dispenser-dispense-volume_ml"[^>]*step="any"', form)
    assert '<option value="&#34;water&#34;" selected>water</option>' in form
    assert "required" in form
    assert "optional" in form
    assert "Volume to add, in mL" in form
    reader = html[html.index('id="m-plate_reader-read_absorbance"') :]
    assert re.search(r"<textarea[^>]*data-json-field", reader)
    assert "leave empty for none" in reader


def test_pages_are_not_in_the_api_schema(app_client: TestClient) -> None:
    paths = app_client.get("/api/openapi.json").json()["paths"]
    assert not [path for path in paths if not path.startswith("/api/")]


# --- running methods ----------------------------------------------------------------------------


def test_running_dispense_records_a_call_and_shows_the_output(
    operator_client: TestClient, services: Services
) -> None:
    response = operator_client.post(
        DISPENSE, data={"volume_ml": "2.5", "solvent": '"ethanol"', "rate_ml_min": "5"}, headers=HX
    )
    assert response.status_code == 200
    assert response.headers["hx-trigger"] == "labdeck:call-finished"
    records, _ = services.control.list_calls(limit=5)
    [record] = records
    assert record.target == "dispenser.dispense"
    assert record.status == "completed"
    assert record.user_name == "olga"
    assert record.args["solvent"] == "ethanol"
    assert abs(record.args["volume_ml"] - 2.5) < 1e-9
    text = text_of(response.text)
    assert "completed" in text
    assert str(record.output) in text
    assert f'href="/api/calls/{record.id}"' in response.text
    calls = operator_client.get("/devices/calls").text
    assert "dispenser.dispense" in calls
    assert f"/api/calls/{record.id}" in calls


def test_a_tuple_is_shown_as_a_list(operator_client: TestClient) -> None:
    response = operator_client.post("/devices/instruments/spectrometer/measure", data={})
    assert response.status_code == 200
    assert re.search(r'class="output">\[[-0-9.]+, [0-9.]+\]<', response.text)


def test_failing_method_shows_code_message_and_traceback(
    operator_client: TestClient, services: Services
) -> None:
    response = operator_client.post("/devices/instruments/broken_pump/prime", data={})
    assert response.status_code == 200  # it ran, and failed
    text = text_of(response.text)
    assert "failed" in text
    assert "UNHANDLED_EXCEPTION" in text
    assert "pump motor stalled" in text
    assert "Trying again will not help" in text
    assert '<details class="traceback">' in response.text
    assert "RuntimeError" in response.text
    retryable = operator_client.post("/devices/instruments/broken_pump/reconnect", data={})
    assert "CONNECTION" in retryable.text
    assert "Trying again may work" in retryable.text
    [latest, _] = services.control.list_calls(limit=2)[0]
    assert latest.status == "failed"


def test_invalid_input_shows_field_messages_and_runs_nothing(
    operator_client: TestClient, services: Services
) -> None:
    response = operator_client.post(DISPENSE, data={"volume_ml": "0"}, headers=HX)
    assert response.status_code == 422
    assert "hx-trigger" not in response.headers
    assert re.search(
        r'id="m-dispenser-dispense-volume_ml-error"[^>]*hx-swap-oob="true">[^<]*greater than 0',
        response.text,
    )
    assert "Nothing was run" in response.text
    assert call_count(services) == 0


def test_invalid_json_is_refused_before_calling(
    operator_client: TestClient, services: Services
) -> None:
    response = operator_client.post(
        "/devices/instruments/plate_reader/read_absorbance", data={"wells": '["A1",'}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.text
    assert call_count(services) == 0


def test_missing_required_field(operator_client: TestClient, services: Services) -> None:
    response = operator_client.post(DISPENSE, data={"volume_ml": ""})
    assert response.status_code == 422
    assert "required: enter a value" in response.text
    assert call_count(services) == 0


def test_deck_function_runs(operator_client: TestClient) -> None:
    response = operator_client.post(
        "/devices/functions/prepare_sample",
        data={"amount_mg": "5", "volume_ml": "2", "solvent": '"ethanol"', "temperature_c": "25"},
    )
    assert response.status_code == 200
    assert "absorbance" in response.text
    assert "completed" in response.text


def test_unknown_method_is_a_404_fragment(operator_client: TestClient) -> None:
    response = operator_client.post("/devices/instruments/dispenser/explode", data={})
    assert response.status_code == 404
    assert "reload the page" in response.text


@pytest.fixture
def busy_deck(services: Services) -> Iterator[None]:
    lock = services.executor.lock
    assert lock.try_acquire("slow_stage.move_to called by admin")
    yield
    lock.release()


def test_busy_deck_says_so(
    operator_client: TestClient, services: Services, busy_deck: None
) -> None:
    response = operator_client.post("/devices/instruments/balance/tare", data={})
    assert response.status_code == 409
    text = text_of(response.text)
    assert "The deck is busy with slow_stage.move_to called by admin" in text
    assert "try again when it finishes" in text
    assert "admin force" not in text  # operators cannot force
    assert call_count(services) == 0
    forced = operator_client.post("/devices/instruments/balance/tare", data={"__force__": "true"})
    assert forced.status_code == 403


def test_admin_may_force_past_a_busy_deck(
    admin_client: TestClient, services: Services, busy_deck: None
) -> None:
    busy = admin_client.post("/devices/instruments/stuck_valve/release", data={})
    assert busy.status_code == 409
    assert 'name="__force__" value="true"' in busy.text
    forced = admin_client.post(
        "/devices/instruments/stuck_valve/release", data={"__force__": "true"}
    )
    assert forced.status_code == 200
    [record], _ = services.control.list_calls(limit=1)
    assert record.forced
    assert record.status == "completed"


# --- properties ---------------------------------------------------------------------------------


def test_property_read_and_set(operator_client: TestClient, services: Services) -> None:
    url = "/devices/instruments/hotplate/properties/target_temperature"
    assert ">20" in operator_client.get(url).text
    response = operator_client.post(url, data={"value": "60"})
    assert response.status_code == 200
    assert "completed" in response.text
    # The value shown is read again from the instrument.
    assert 'id="p-hotplate-target_temperature-current" hx-swap-oob="true"' in response.text
    assert ">60" in operator_client.get(url).text
    bad = operator_client.post(url, data={"value": "warm"})
    assert bad.status_code == 422
    assert re.search(r'id="p-hotplate-target_temperature-value-error"[^>]*>[^<]*number', bad.text)
    refused = operator_client.post(url, data={"value": "900"})  # the driver checks its range
    assert refused.status_code == 200
    assert "OUT_OF_RANGE" in refused.text


def test_recent_calls_leave_out_property_reads(
    operator_client: TestClient, services: Services
) -> None:
    operator_client.get("/devices/instruments/balance/properties/unit")
    operator_client.post("/devices/instruments/balance/tare", data={})
    html = operator_client.get("/devices/calls").text
    assert "balance.tare" in html
    assert "balance.unit" not in html


# --- viewers and other sites --------------------------------------------------------------------


def test_viewer_sees_read_only_forms(viewer_client: TestClient) -> None:
    html = viewer_client.get("/devices").text
    assert "btn-run" not in html
    assert "Run</button>" not in html
    assert "<fieldset disabled>" in html
    assert "needs the operator role" in html
    assert 'hx-trigger="load"' not in html  # reading a property calls the instrument


def test_viewer_cannot_run_or_read(viewer_client: TestClient, services: Services) -> None:
    response = viewer_client.post(DISPENSE, data={"volume_ml": "1"})
    assert response.status_code == 403
    assert "viewer" in response.text
    read = viewer_client.get("/devices/instruments/balance/properties/unit")
    assert read.status_code == 403
    assert call_count(services) == 0
    assert viewer_client.get("/devices/calls").status_code == 200


def test_bearer_viewer_gets_403_on_a_fragment(
    app_client: TestClient, viewer_headers: dict[str, str]
) -> None:
    response = app_client.post(DISPENSE, data={"volume_ml": "1"}, headers=viewer_headers)
    assert response.status_code == 403


def test_cross_origin_post_is_refused(operator_client: TestClient, services: Services) -> None:
    response = operator_client.post(
        DISPENSE, data={"volume_ml": "1"}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "CROSS_ORIGIN"
    assert call_count(services) == 0
    same_site = operator_client.post(
        DISPENSE, data={"volume_ml": "1"}, headers={"Origin": "http://testserver"}
    )
    assert same_site.status_code == 200


# --- a deck with the unusual cases the demo does not have -----------------------------------

ODD_DECK = '''
"""A deck with a method a browser cannot call and one that takes **kwargs."""
import typing


class Recorder:
    """Keeps notes <b>and</b> files."""

    def load(self, stream: typing.IO[bytes]) -> None:
        """Read settings from an open file."""

    def note(self, text: str, **extra: float) -> dict:
        """Write a note with extra numbers."""
        return {"text": text, **extra}


recorder = Recorder()
'''


@pytest.fixture(scope="module")
def odd_deck(tmp_path_factory: pytest.TempPathFactory) -> Deck:
    from labdeck.server import load_deck

    path = tmp_path_factory.mktemp("odd") / "labdeck_web_odd_deck.py"
    path.write_text(ODD_DECK)
    return load_deck(str(path))


@pytest.fixture
def odd_client(odd_deck: Deck, make_services: Callable[..., Services]) -> Iterator[TestClient]:
    services = make_services(odd_deck)
    with TestClient(create_app(services)) as client:
        assert login(client, "admin", ADMIN_PASSWORD).status_code == 303
        yield client


def test_uncallable_methods_are_greyed_with_their_reason(odd_client: TestClient) -> None:
    html = odd_client.get("/devices").text
    block = html[
        html.index('id="m-recorder-load-block"') : html.index('id="m-recorder-note-block"')
    ]
    assert "method-unavailable" in html
    assert "cannot be run from the browser" in block
    assert "btn-run" not in block
    assert "Keeps notes &lt;b&gt;and&lt;/b&gt; files." in html  # docs are escaped


def test_kwargs_are_entered_as_extra_json(odd_client: TestClient) -> None:
    html = odd_client.get("/devices").text
    assert 'name="__extra__"' in html
    response = odd_client.post(
        "/devices/instruments/recorder/note", data={"text": "hi", "__extra__": '{"ph": 7.1}'}
    )
    assert response.status_code == 200
    assert "7.1" in response.text
    assert "completed" in response.text
