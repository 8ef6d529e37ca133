"""Two real servers on loopback: server A mounts server B's instruments with `labdeck.remote`.

B serves a small deck (an Enum, a Literal, bounds, a slow stage); A serves a deck file that
mounts B's instruments, with B's URL and token given through environment variables. A sees
B's types, its direct calls and workflows run on B, and when B is killed mid-call A's step
fails with a retryable CONNECTION error; after B restarts, retrying A's run completes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

LAB_B = '''
"""Lab B: a spectrometer and a slow stage, served to other labdeck servers."""
import enum
import time
from typing import Annotated, Literal

from pydantic import Field


class Filter(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Spectrometer:
    """A spectrometer with a filter wheel."""

    def __init__(self) -> None:
        self._mode = "absorbance"

    @property
    def mode(self) -> Literal["absorbance", "transmittance"]:
        return self._mode

    def set_mode(self, mode: Literal["absorbance", "transmittance"]) -> str:
        self._mode = mode
        return mode

    def measure(
        self, wavelength_nm: Annotated[int, Field(ge=200, le=800)] = 450, color: Filter = Filter.RED
    ) -> float:
        """Read at one wavelength through a filter."""
        return wavelength_nm / 1000 + (0.1 if color is Filter.BLUE else 0.0)


class Stage:
    def move_to(
        self, position_mm: Annotated[float, Field(ge=0, le=300)], settle_s: float = 0
    ) -> float:
        """Move, then wait `settle_s` seconds for the carriage to settle."""
        time.sleep(settle_s)
        return position_mm


spectrometer = Spectrometer()
stage = Stage()
'''

LAB_A = '''
"""Lab A: B's instruments mounted next to a local function."""
import os

from labdeck import remote

lab_b = remote(
    os.environ["LAB_B_URL"], token=os.environ["LAB_B_TOKEN"], instruments=["spectrometer", "stage"]
)
spectrometer_b = lab_b.spectrometer
stage_b = lab_b.stage


def read_both_filters(wavelength_nm: int = 450) -> list[float]:
    """Deck code on A calling the remote instrument as a Python object."""
    return [spectrometer_b.measure(wavelength_nm, color=color) for color in ("RED", "BLUE")]
'''
SETTLE_S = 2.0


def until(check: Callable[[], Any], timeout_s: float = 10) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout_s} s")


def publish(client: httpx.Client, name: str, script: list[dict[str, Any]]) -> None:
    document = {"format": "labdeck.workflow/1", "name": name, "script": script}
    created = client.post("/api/workflows", json=document).json()
    assert created["problems"] == [], created["problems"]
    assert client.post(f"/api/workflows/{created['id']}/publish").status_code == 201


def run_status(client: httpx.Client, run_id: str, *statuses: str) -> dict[str, Any]:
    return until(  # type: ignore[no-any-return]
        lambda: (run := client.get(f"/api/runs/{run_id}").json())["status"] in statuses and run
    )


def test_a_workflow_on_a_uses_bs_instruments_and_survives_b_being_killed_mid_call(
    tmp_path: Path,
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "lab_b.py").write_text(LAB_B)
    (tmp_path / "a" / "lab_a.py").write_text(LAB_A)
    server_b = ServerProcess(["serve", str(tmp_path / "b" / "lab_b.py")], tmp_path / "data_b")
    server_b.start()
    b_headers = server_b.token()
    token = b_headers["Authorization"].removeprefix("Bearer ")
    server_a = ServerProcess(
        ["serve", str(tmp_path / "a" / "lab_a.py")],
        tmp_path / "data_a",
        env={"LAB_B_URL": server_b.base_url, "LAB_B_TOKEN": token},
    )
    a = httpx.Client(base_url=server_a.base_url, timeout=10)
    b = httpx.Client(base_url=server_b.base_url, headers=b_headers, timeout=10)
    try:
        server_a.start()
        a.headers.update(server_a.token())

        # A's schema has B's instruments with B's types.
        deck_a, deck_b = a.get("/api/deck").json(), b.get("/api/deck").json()
        assert set(deck_a["instruments"]) == {"spectrometer_b", "stage_b"}
        assert set(deck_a["functions"]) == {"read_both_filters"}
        assert deck_a["instruments"]["spectrometer_b"] == deck_b["instruments"]["spectrometer"]
        measure = deck_a["instruments"]["spectrometer_b"]["methods"]["measure"]["params_schema"]
        assert measure["properties"]["color"]["enum"] == ["red", "blue"]
        set_mode = deck_a["instruments"]["spectrometer_b"]["methods"]["set_mode"]
        assert set_mode["params_schema"]["properties"]["mode"]["enum"] == [
            "absorbance",
            "transmittance",
        ]

        # A direct call on A runs on B (an Enum by name, converted by B) and is recorded there.
        call = a.post(
            "/api/instruments/spectrometer_b/measure",
            json={"args": {"wavelength_nm": 500, "color": "BLUE"}},
        ).json()
        assert (call["status"], call["output"]) == ("completed", 0.6)
        on_b = b.get("/api/calls", params={"target": "spectrometer.measure"}).json()["items"]
        assert [c["args"] for c in on_b] == [{"wavelength_nm": 500, "color": "blue"}]
        refused = a.post(
            "/api/instruments/spectrometer_b/measure", json={"args": {"wavelength_nm": 900}}
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["detail"]["fields"][0]["field"] == "wavelength_nm"

        # A workflow on A whose steps call B, directly and through deck code on A.
        publish(
            a,
            "remote read",
            [
                {
                    "id": "mode",
                    "kind": "call",
                    "target": "spectrometer_b.set_mode",
                    "args": {"mode": "transmittance"},
                },
                {"id": "both", "kind": "call", "target": "read_both_filters", "save": "readings"},
            ],
        )
        read = a.post("/api/runs", json={"workflow": "remote read"}).json()
        done = run_status(a, read["id"], "completed", "failed", "paused")
        assert done["status"] == "completed", done
        steps = {s["path"]: s for s in a.get(f"/api/runs/{read['id']}/steps").json()["steps"]}
        assert steps["both"]["output"] == [0.45, 0.55]
        assert b.get("/api/instruments/spectrometer/properties/mode").json()["output"] == (
            "transmittance"
        )

        # B killed mid-call: A's step fails with a retryable CONNECTION error and the run
        # pauses on it; after B restarts on the same port, retrying completes the run.
        publish(
            a,
            "remote move",
            [
                {
                    "id": "move",
                    "kind": "call",
                    "target": "stage_b.move_to",
                    "args": {"position_mm": 120, "settle_s": SETTLE_S},
                }
            ],
        )
        moving = a.post("/api/runs", json={"workflow": "remote move"}).json()
        until(
            lambda: b.get(
                "/api/calls", params={"target": "stage.move_to", "status": "running"}
            ).json()["items"]
        )
        b.close()
        server_b.kill()
        paused = run_status(a, moving["id"], "paused", "failed", "completed")
        assert paused["status"] == "paused", paused
        # The run parks on the error a moment after its status says paused.
        until(lambda: "retry" in a.get(f"/api/runs/{moving['id']}").json()["actions"])
        (step,) = a.get(f"/api/runs/{moving['id']}/steps").json()["steps"]
        assert step["status"] == "failed"
        error = step["error"]
        assert (error["code"], error["retryable"], error["provider_status"]) == (
            "CONNECTION",
            True,
            None,
        )
        assert f"lost the connection to {server_b.base_url}" in error["message"]

        server_b.start()
        b = httpx.Client(base_url=server_b.base_url, headers=b_headers, timeout=10)
        assert a.post(f"/api/runs/{moving['id']}/retry").status_code == 200
        done = run_status(a, moving["id"], "completed", "failed")
        assert done["status"] == "completed", done
        attempts = a.get(f"/api/runs/{moving['id']}/steps").json()["steps"]
        assert [(s["status"], s["output"]) for s in attempts] == [
            ("failed", None),
            ("completed", 120),
        ]
        # B recorded the cut-off call as interrupted by its restart, and the retry as done.
        moves = b.get("/api/calls", params={"target": "stage.move_to"}).json()["items"]
        assert [(c["status"], (c["error"] or {}).get("code")) for c in moves] == [
            ("completed", None),
            ("failed", "SERVER_RESTART"),
        ]
    finally:
        a.close()
        b.close()
        server_a.stop()
        server_b.stop()
