"""Direct control over HTTP on the demo lab: the status rule, recording, busy, force, roles."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from labdeck.services import Services


def call(client: TestClient, target: str, args: dict | None = None, **extra):
    instrument, method = target.split(".")
    return client.post(
        f"/api/instruments/{instrument}/{method}", json={"args": args or {}, **extra}
    )


def test_a_completed_call_returns_its_output_and_is_recorded(client: TestClient) -> None:
    response = call(client, "dispenser.dispense", {"volume_ml": "2.5", "solvent": "METHANOL"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["target"] == "dispenser.dispense"
    assert body["args"] == {"volume_ml": 2.5, "solvent": "methanol"}
    assert abs(body["output"] - 2.5) < 0.5
    assert body["error"] is None
    assert body["user"] == "olga"
    assert body["duration_s"] >= 0
    recorded = client.get(f"/api/calls/{body['id']}").json()
    assert recorded == body


def test_enum_by_value_reaches_the_driver_as_the_member(client: TestClient) -> None:
    import labdeck.demo.deck as demo

    seen: list[object] = []
    original = demo.dispenser.dispense

    def spy(*args, **kwargs):
        seen.append(kwargs.get("solvent"))
        return original(*args, **kwargs)

    demo.dispenser.dispense = spy  # type: ignore[method-assign]
    try:
        # The binding was made at introspection: patch through the services' deck instead.
        binding = client.app.state.services.deck.method("dispenser", "dispense")  # type: ignore[attr-defined]
        binding.func = spy
        assert (
            call(client, "dispenser.dispense", {"volume_ml": 1, "solvent": "ethanol"}).json()[
                "status"
            ]
            == "completed"
        )
    finally:
        binding.func = original
        del demo.dispenser.dispense
    assert seen == [demo.Solvent.ETHANOL]


def test_tuple_returns_are_json_lists(client: TestClient) -> None:
    body = call(client, "spectrometer.measure", {"wavelength_nm": 450}).json()
    assert body["status"] == "completed"
    assert isinstance(body["output"], list)
    assert len(body["output"]) == 2


def test_a_driver_exception_is_a_200_failed_call_with_a_structured_error(
    client: TestClient,
) -> None:
    response = call(client, "broken_pump.prime")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed"
    assert body["output"] is None
    error = body["error"]
    assert error["code"] == "UNHANDLED_EXCEPTION"
    assert error["message"] == "pump motor stalled"
    assert error["retryable"] is False
    assert error["detail"]["exception_type"] == "builtins.RuntimeError"
    assert "Traceback" in error["detail"]["traceback"]
    assert client.get(f"/api/calls/{body['id']}").json()["status"] == "failed"


def test_instrument_errors_keep_their_code_and_connection_errors_are_retryable(
    client: TestClient,
) -> None:
    pressure = call(client, "broken_pump.pump", {"volume_ml": 1}).json()["error"]
    assert (pressure["code"], pressure["retryable"]) == ("PRESSURE_HIGH", False)
    connection = call(client, "broken_pump.reconnect").json()["error"]
    assert (connection["code"], connection["retryable"]) == ("CONNECTION", True)


def test_unknown_targets_are_404_and_nothing_is_recorded(client: TestClient) -> None:
    for path in (
        "/api/instruments/nope/dispense",
        "/api/instruments/dispenser/nope",
        "/api/instruments/dispenser/_private",
        "/api/instruments/dispenser/__init__",
        "/api/instruments/_bench/reset",
        "/api/functions/nope",
    ):
        response = client.post(path, json={"args": {}})
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/api/calls").json()["items"] == []


def test_invalid_arguments_are_422_per_field_and_nothing_runs(client: TestClient) -> None:
    response = call(
        client, "dispenser.dispense", {"volume_ml": "lots", "solvent": "lava", "colour": "red"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    fields = {problem["field"] for problem in error["detail"]["fields"]}
    assert fields == {"volume_ml", "solvent", "colour"}
    missing = call(client, "dispenser.dispense", {})
    assert missing.status_code == 422
    assert missing.json()["error"]["detail"]["fields"][0]["field"] == "volume_ml"
    out_of_range = call(client, "dispenser.dispense", {"volume_ml": 500})
    assert out_of_range.status_code == 422
    assert client.get("/api/calls").json()["items"] == []


def test_deck_functions_are_callable(client: TestClient) -> None:
    response = client.post(
        "/api/functions/prepare_sample",
        json={"args": {"amount_mg": 5, "volume_ml": 2, "solvent": "water"}},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed", body
    assert body["kind"] == "function"
    assert "absorbance" in body["output"]


def test_properties_are_read_and_set_as_recorded_calls(client: TestClient) -> None:
    read = client.get("/api/instruments/hotplate/properties/target_temperature")
    assert read.status_code == 200
    assert read.json()["kind"] == "property_get"
    written = client.put(
        "/api/instruments/hotplate/properties/target_temperature", json={"value": "60"}
    )
    assert written.status_code == 200
    assert written.json()["status"] == "completed"
    assert written.json()["args"] == {"value": 60.0}
    again = client.get("/api/instruments/hotplate/properties/target_temperature").json()
    assert again["output"] == 60.0
    read_only = client.put("/api/instruments/balance/properties/unit", json={"value": "g"})
    assert read_only.status_code == 422
    assert read_only.json()["error"]["code"] == "READ_ONLY"
    assert client.get("/api/instruments/hotplate/properties/nope").status_code == 404


def test_async_instrument_keeps_its_event_loop_between_calls(client: TestClient) -> None:
    before = call(client, "plate_reader.read_absorbance").json()
    assert before["status"] == "failed"
    assert before["error"]["code"] == "NOT_SET_UP"
    assert call(client, "plate_reader.setup").json()["status"] == "completed"
    after = call(client, "plate_reader.read_absorbance", {"wavelength_nm": 450}).json()
    assert after["status"] == "completed", after["error"]
    assert isinstance(after["output"], dict)


def _hang_valve(client: TestClient) -> threading.Thread:
    thread = threading.Thread(target=lambda: call(client, "stuck_valve.open"), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    while not services.executor.lock.locked() and time.monotonic() < deadline:
        time.sleep(0.005)
    return thread


def test_a_call_while_the_deck_is_busy_waits_then_gets_409(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    hanging = _hang_valve(client)
    try:
        started = time.monotonic()
        busy = call(client, "balance.weigh")
        waited = time.monotonic() - started
        assert busy.status_code == 409
        error = busy.json()["error"]
        assert error["code"] == "INSTRUMENT_BUSY"
        assert error["retryable"] is True
        assert "stuck_valve.open" in error["message"]
        assert waited >= 0.18  # the configured wait (0.2 s in tests)
        # The hanging call was recorded before it ran.
        running = client.get("/api/calls", params={"status": "running"}).json()["items"]
        assert [c["target"] for c in running] == ["stuck_valve.open"]
        # Operators cannot force; admins can, and that is how a stuck instrument is freed.
        denied = call(client, "stuck_valve.release", force=True)
        assert denied.status_code == 403
        forced = client.post(
            "/api/instruments/stuck_valve/release",
            json={"args": {}, "force": True},
            headers=admin_headers,
        )
        assert forced.status_code == 200
        assert forced.json()["forced"] is True
    finally:
        hanging.join(timeout=5)
    assert not hanging.is_alive()
    assert call(client, "balance.weigh").status_code == 200


def test_a_call_waiting_for_the_deck_runs_when_it_frees_in_time(
    client: TestClient, services: Services
) -> None:
    services.executor.lock.acquire("a test holding the deck", timeout_s=0)
    threading.Timer(0.05, services.executor.lock.release).start()
    assert call(client, "balance.weigh").json()["status"] == "completed"


def test_viewers_can_read_but_not_call(
    app_client: TestClient, viewer_headers: dict[str, str]
) -> None:
    app_client.headers.update(viewer_headers)
    assert app_client.get("/api/deck").status_code == 200
    assert app_client.get("/api/calls").status_code == 200
    denied = call(app_client, "balance.weigh")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "ROLE_REQUIRED"
    assert app_client.get("/api/instruments/hotplate/properties/temperature").status_code == 403


def test_call_history_pages_with_a_cursor(client: TestClient) -> None:
    ids = [call(client, "balance.weigh").json()["id"] for _ in range(5)]
    first = client.get("/api/calls", params={"limit": 2}).json()
    assert [c["id"] for c in first["items"]] == ids[::-1][:2]
    second = client.get("/api/calls", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [c["id"] for c in second["items"]] == ids[::-1][2:4]
    last = client.get("/api/calls", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [c["id"] for c in last["items"]] == [ids[0]]
    assert last["next_cursor"] is None
    assert client.get("/api/calls", params={"limit": 501}).status_code == 422
    assert client.get("/api/calls/999999").status_code == 404
    assert client.get("/api/calls/not-a-number").status_code == 404


def test_call_history_filters_by_kind(client: TestClient) -> None:
    call(client, "balance.weigh")
    client.get("/api/instruments/hotplate/properties/temperature")
    client.put("/api/instruments/hotplate/properties/target_temperature", json={"value": 40})

    def kinds(*wanted: str) -> list[str]:
        items = client.get("/api/calls", params={"kind": wanted}).json()["items"]
        return [item["kind"] for item in items]

    assert kinds("method") == ["method"]
    assert kinds("property_get", "property_set") == ["property_set", "property_get"]
    assert client.get("/api/calls", params={"kind": "nonsense"}).status_code == 422


def test_deck_schema_has_a_fingerprint_and_every_demo_instrument(client: TestClient) -> None:
    deck = client.get("/api/deck").json()
    assert len(deck["fingerprint"]) == 16
    assert {
        "dispenser",
        "balance",
        "hotplate",
        "spectrometer",
        "plate_reader",
        "broken_pump",
        "slow_stage",
        "stuck_valve",
        "flaky_sensor",
    } <= set(deck["instruments"])
    dispense = deck["instruments"]["dispenser"]["methods"]["dispense"]
    assert dispense["callable"] is True
    assert dispense["params_schema"]["properties"]["volume_ml"]["maximum"] == 20
    assert deck["instruments"]["plate_reader"]["methods"]["setup"]["async"] is True
    assert "prepare_sample" in deck["functions"]
    assert "_bench" not in deck["instruments"]
