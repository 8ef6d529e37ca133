"""`GET /api/proxy.py` of a real demo server: download it, then call the server through it,
in this interpreter and in a clean one where labdeck cannot be imported."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

import labdeck.client
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

MODULE = "labdeck_demo_deck_proxy"


@pytest.fixture(scope="module")
def proxy_source(demo_server: ServerProcess, viewer_token: str) -> str:
    """Viewers may download the proxy."""
    response = httpx.get(
        f"{demo_server.base_url}/api/proxy.py",
        headers={"Authorization": f"Bearer {viewer_token}"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/x-python")
    assert response.headers["content-disposition"] == f'attachment; filename="{MODULE}.py"'
    return response.text


@pytest.fixture
def module_dir(proxy_source: str, tmp_path: Path) -> Path:
    (tmp_path / f"{MODULE}.py").write_text(proxy_source, encoding="utf-8")
    return tmp_path


def test_the_download_needs_a_login(demo_server: ServerProcess) -> None:
    response = httpx.get(f"{demo_server.base_url}/api/proxy.py")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"


def test_the_module_compiles_and_reads_like_formatted_code(
    proxy_source: str, module_dir: Path
) -> None:
    compile(proxy_source, f"{MODULE}.py", "exec")
    assert "class Dispenser(_Instrument):" in proxy_source
    assert "class Solvent(str, Enum):" in proxy_source
    assert 'def set_mode(self, mode: Literal["absorbance", "transmittance"]) -> None:' in (
        proxy_source
    )
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed next to this Python")
    # Outside the project, ruff uses its defaults (line length 88), like most projects.
    checked = subprocess.run(
        [ruff, "format", "--check", "--diff", "--isolated", f"{MODULE}.py"],
        cwd=module_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


CLEAN_CHECK = textwrap.dedent(
    """
    import json
    import socket
    import sys

    module_dir, site_dir, url, operator, viewer = sys.argv[1:]
    sys.path.insert(0, module_dir)
    sys.path.append(site_dir)  # httpx, without the .pth files that install labdeck
    out = {}
    try:
        import labdeck  # noqa: F401
    except ImportError:
        out["labdeck_importable"] = False
    else:
        out["labdeck_importable"] = True

    def no_network(*args, **kwargs):
        raise AssertionError("the proxy used the network at import")

    real = socket.getaddrinfo, socket.socket.connect
    socket.getaddrinfo, socket.socket.connect = no_network, no_network
    import labdeck_demo_deck_proxy as proxy

    deck = proxy.Deck(url, operator)
    socket.getaddrinfo, socket.socket.connect = real
    out["error_class"] = proxy.RemoteInstrumentError.__module__

    def error_of(call):
        try:
            call()
        except proxy.RemoteInstrumentError as exc:
            return [exc.code, exc.retryable, exc.status, sorted(exc.detail)]
        return None

    with deck:
        deck.reset_bench(seed=1)
        out["enum"] = deck.dispenser.dispense(1.0, proxy.Solvent.ETHANOL)
        out["enum_value"] = deck.dispenser.dispense(1.0, solvent="methanol")
        deck.spectrometer.set_mode("transmittance")
        out["literal"] = deck.spectrometer.mode
        deck.spectrometer.set_mode("absorbance")
        deck.hotplate.target_temperature = 31.5
        out["property"] = deck.hotplate.target_temperature
        deck.hotplate.off()
        out["tuple"] = type(deck.spectrometer.measure(wavelength_nm=450)).__name__
        sample = deck.prepare_sample(2.5, 5.0, proxy.Solvent.ETHANOL, temperature_c=30)
        out["function"] = sorted(sample)
        out["prime"] = error_of(deck.broken_pump.prime)
        out["reconnect"] = error_of(deck.broken_pump.reconnect)
        out["invalid"] = error_of(lambda: deck.balance.dose_solid(-1))
    with proxy.Deck(url, viewer) as as_viewer:
        out["viewer"] = error_of(as_viewer.balance.weigh)
    with proxy.Deck("http://127.0.0.1:9", operator, timeout=2) as nowhere:
        out["nowhere"] = error_of(nowhere.balance.weigh)
    print(json.dumps(out))
    """
)


def test_the_module_calls_the_server_from_an_interpreter_without_labdeck(
    module_dir: Path, demo_server: ServerProcess, operator_token: str, viewer_token: str
) -> None:
    site_dir = Path(httpx.__file__).parent.parent
    # -I: no PYTHONPATH, no user site; -S: no site-packages (so no editable labdeck install).
    arguments = [str(module_dir), str(site_dir), demo_server.base_url, operator_token, viewer_token]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CLEAN_CHECK, *arguments],
        cwd=module_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["labdeck_importable"] is False
    assert out["error_class"] == MODULE  # its own RemoteInstrumentError
    assert abs(out["enum"] - 1.0) < 0.05
    assert abs(out["enum_value"] - 1.0) < 0.05
    assert out["literal"] == "transmittance"
    assert out["property"] == 31.5
    assert out["tuple"] == "tuple"
    assert {"absorbance", "peak_nm"} <= set(out["function"])
    assert out["prime"][:3] == ["UNHANDLED_EXCEPTION", False, 200]  # it ran and failed
    assert "call_id" in out["prime"][3]
    assert out["reconnect"][:3] == ["CONNECTION", True, 200]
    assert out["invalid"][:3] == ["INVALID_INPUT", False, 422]
    assert "fields" in out["invalid"][3]
    assert out["viewer"][:3] == ["ROLE_REQUIRED", False, 403]
    assert out["nowhere"] == ["CONNECTION", True, None, []]


@pytest.fixture
def proxy_module(module_dir: Path) -> Iterator[ModuleType]:
    """The proxy imported here, where labdeck is installed."""
    spec = importlib.util.spec_from_file_location(MODULE, module_dir / f"{MODULE}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[MODULE]


def test_with_labdeck_installed_it_raises_labdecks_own_error(
    proxy_module: Any, demo_server: ServerProcess, operator_token: str
) -> None:
    assert proxy_module.RemoteInstrumentError is labdeck.client.RemoteInstrumentError
    with proxy_module.Deck(demo_server.base_url, operator_token) as deck:
        with pytest.raises(labdeck.client.RemoteInstrumentError) as failed:
            deck.broken_pump.pump(2.0)
        assert (failed.value.code, failed.value.retryable) == ("PRESSURE_HIGH", False)
        assert deck.balance.unit == "mg"
        assert deck.flaky_sensor.failure_rate >= 0
