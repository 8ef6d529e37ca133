"""Driver exceptions become structured errors for the records."""

from __future__ import annotations

from labdeck.errors import InstrumentError, error_from_exception


def test_an_instrument_error_keeps_its_code_status_and_detail() -> None:
    try:
        raise InstrumentError(
            "PUMP_STALLED",
            "the pump stalled",
            retryable=True,
            provider_status=17,
            detail={"remote_call": 42, "pressure": float("nan")},
        )
    except InstrumentError as exc:
        error = error_from_exception(exc)
    assert (error.code, error.message, error.retryable, error.provider_status) == (
        "PUMP_STALLED",
        "the pump stalled",
        True,
        17,
    )
    assert error.detail["remote_call"] == 42
    assert error.detail["pressure"] == "NaN"  # kept JSON-safe for the database
    assert error.detail["exception_type"] == "labdeck.errors.InstrumentError"


def test_other_exceptions_map_to_timeout_connection_or_unhandled() -> None:
    codes = []
    for exc in (TimeoutError("slow"), ConnectionResetError("gone"), ValueError("bad")):
        error = error_from_exception(exc)
        codes.append((error.code, error.retryable))
    assert codes == [("TIMEOUT", True), ("CONNECTION", True), ("UNHANDLED_EXCEPTION", False)]
