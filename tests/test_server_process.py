"""Real `labdeck` processes: serving deck files, `labdeck.run`, crash recovery, the demo."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

DECK = textwrap.dedent(
    '''
    """A lab deck whose driver lives in a sibling module."""
    import time

    import labdeck
    from drivers import Valve

    valve = Valve()


    def hold(seconds: float = 30.0) -> str:
        """Keep the deck busy (for crash tests)."""
        time.sleep(seconds)
        return "held"


    labdeck.run(__name__)
    '''
)
DRIVERS = textwrap.dedent(
    '''
    class Valve:
        """A valve driver in a sibling module of the deck."""

        def open(self, percent: int = 100) -> int:
            return percent
    '''
)


@pytest.fixture
def deck_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "mydeck.py").write_text(DECK)
    (folder / "drivers.py").write_text(DRIVERS)
    return folder


def test_serve_a_deck_file_with_a_sibling_module_and_a_run_call(
    deck_dir: Path, tmp_path: Path
) -> None:
    server = ServerProcess(["serve", str(deck_dir / "mydeck.py")], tmp_path / "data").start()
    try:
        headers = server.token()
        deck = httpx.get(f"{server.base_url}/api/deck", headers=headers).json()
        assert deck["name"] == "mydeck"
        assert set(deck["instruments"]) == {"valve"}
        assert set(deck["functions"]) == {"hold"}
        called = httpx.post(
            f"{server.base_url}/api/instruments/valve/open",
            json={"args": {"percent": "40"}},
            headers=headers,
        ).json()
        assert (called["status"], called["output"]) == ("completed", 40)
    finally:
        output = server.stop()
    # labdeck.run() inside the imported deck returned at once: one banner, one server.
    assert output.count("labdeck 'mydeck'") == 1
    assert "login  admin / the password in LABDECK_ADMIN_PASSWORD" in output


def test_running_the_deck_module_itself_serves_it(deck_dir: Path, tmp_path: Path) -> None:
    server = ServerProcess([], tmp_path / "data", cwd=deck_dir)
    # labdeck.run() takes host, port and data dir from the environment here.
    server.extra_env = {"LABDECK_PORT": str(server.port), "LABDECK_DATA_DIR": str(tmp_path / "d")}
    server.start(command=[sys.executable, "mydeck.py"])
    try:
        deck = httpx.get(f"{server.base_url}/api/deck", headers=server.token()).json()
        assert deck["name"] == "mydeck"
        assert set(deck["instruments"]) == {"valve"}
    finally:
        server.stop()


def test_a_call_cut_off_by_a_crash_is_recorded_as_failed_after_restart(
    deck_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = ServerProcess(["serve", str(deck_dir / "mydeck.py")], data).start()
    headers = server.token()

    def hold() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server is killed under this request
            httpx.post(
                f"{server.base_url}/api/functions/hold",
                json={"args": {"seconds": 30}},
                headers=headers,
                timeout=60,
            )

    caller = threading.Thread(target=hold, daemon=True)
    caller.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        running = httpx.get(
            f"{server.base_url}/api/calls", params={"status": "running"}, headers=headers
        ).json()["items"]
        if running:
            break
        time.sleep(0.02)
    assert [call["target"] for call in running] == ["hold"]
    server.kill()
    caller.join(timeout=5)

    restarted = ServerProcess(["serve", str(deck_dir / "mydeck.py")], data).start()
    try:
        headers = restarted.token()
        call = httpx.get(
            f"{restarted.base_url}/api/calls/{running[0]['id']}", headers=headers
        ).json()
        assert call["status"] == "failed"
        assert call["error"]["code"] == "SERVER_RESTART"
        assert call["error"]["retryable"] is True
        assert call["args"] == {"seconds": 30.0}
    finally:
        output = restarted.stop()
    assert "1 direct call(s) were running when the server stopped" in output


def test_demo_prints_the_url_and_a_working_login_at_every_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(["demo"], data, admin_password=None).start()
    login = [line for line in first.stop().splitlines() if "login  admin / " in line]
    assert len(login) == 1
    password = login[0].split("login  admin / ")[1].strip()
    assert len(password) >= 12
    assert f"http://127.0.0.1:{first.port}/" in first.output
    assert "demo workflows published: dye-absorbance" in first.output

    second = ServerProcess(["demo"], data, admin_password=None).start()
    try:
        headers = second.token(password)
        assert "Authorization" in headers
        workflow = httpx.get(f"{second.base_url}/api/workflows/dye-absorbance", headers=headers)
        assert workflow.json()["active_version"] == 1  # published once, kept at the next start
    finally:
        output = second.stop()
    assert f"login  admin / {password}" in output
    assert "demo workflows published" not in output


def test_serve_loads_workflow_templates_at_start(deck_dir: Path, tmp_path: Path) -> None:
    import json

    templates = deck_dir / "workflows"
    templates.mkdir()
    document = {
        "format": "labdeck.workflow/1",
        "name": "open halfway",
        "script": [{"id": "open", "kind": "call", "target": "valve.open", "args": {"percent": 50}}],
    }
    (templates / "open.json").write_text(json.dumps(document))
    server = ServerProcess(
        ["serve", str(deck_dir / "mydeck.py"), "--templates", str(templates)], tmp_path / "data"
    ).start()
    try:
        listed = httpx.get(f"{server.base_url}/api/workflows", headers=server.token()).json()
        assert [w["name"] for w in listed] == ["open halfway"]
    finally:
        output = server.stop()
    assert "1 created" in output


def test_serving_does_not_import_what_only_some_labs_use() -> None:
    # Start-up time is a target (benchmarks/direct_calls.py): httpx (webhooks, remote
    # instruments, the proxy) and APScheduler (schedules) are imported on first use.
    code = (
        "import sys, labdeck.server, labdeck.cli; "
        "print(sorted(m for m in ('httpx', 'apscheduler') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
