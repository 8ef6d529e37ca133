"""One real `labdeck demo` server for the client, proxy and remote-CLI tests, and its users.

The server is started once for the package (a start takes seconds); each test leaves it idle:
`lab` cancels the runs a test left unfinished and resumes the queue afterwards.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labdeck.client import Client, LabdeckClientError
from tests.server_process import PASSWORD, ServerProcess

ROLE_PASSWORD = "client-role-password-1"
UNFINISHED = ("pending", "running", "waiting", "paused")


@pytest.fixture(scope="package")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("client") / "data"
    server = ServerProcess(["demo"], data).start()
    yield server
    server.stop()


def _token(server: ServerProcess, name: str, role: str) -> str:
    admin = server.token(PASSWORD)
    created = httpx.post(
        f"{server.base_url}/api/users",
        json={"name": name, "password": ROLE_PASSWORD, "role": role},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    answer = httpx.post(
        f"{server.base_url}/api/auth/token", json={"username": name, "password": ROLE_PASSWORD}
    )
    return str(answer.json()["token"])


@pytest.fixture(scope="package")
def operator_token(demo_server: ServerProcess) -> str:
    return _token(demo_server, "olga", "operator")


@pytest.fixture(scope="package")
def viewer_token(demo_server: ServerProcess) -> str:
    return _token(demo_server, "victor", "viewer")


@pytest.fixture(scope="package")
def operator(demo_server: ServerProcess, operator_token: str) -> Iterator[Client]:
    with Client(demo_server.base_url, operator_token) as client:
        yield client


@pytest.fixture
def lab(operator: Client) -> Iterator[Client]:
    """The operator's client; afterwards the server is idle again (no unfinished runs)."""
    yield operator
    make_idle(operator)


def make_idle(client: Client) -> None:
    for run in client.runs(limit=None):
        if run["status"] in UNFINISHED:
            with contextlib.suppress(LabdeckClientError):  # it ended in the meantime
                client.cancel(run["id"], "test cleanup")
    deadline = time.monotonic() + 15
    while any(run["status"] in UNFINISHED for run in client.runs(limit=100)):
        assert time.monotonic() < deadline, "runs did not end after cancel"
        time.sleep(0.05)
    client.resume_queue()
