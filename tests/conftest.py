"""Shared fixtures: settings in a temp data dir, services over a deck, API clients per role.

PostgreSQL tests use `LABDECK_TEST_POSTGRES_URL` (a server URL; each test gets a fresh
database). Browser tests use Debian's chromium. Locally both skip with a reason when missing;
under CI (`LABDECK_TEST_REQUIRE_POSTGRES=1`, `LABDECK_TEST_REQUIRE_BROWSER=1`) they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labdeck.app import create_app
from labdeck.deck.bindings import Deck
from labdeck.services import Services, build_services
from labdeck.settings import Settings, get_settings

ADMIN_PASSWORD = "admin-password-123"
ROLE_PASSWORD = "role-password-123"
POSTGRES_ENV = "LABDECK_TEST_POSTGRES_URL"


def _required(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _fast_demo_instruments(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Simulated instruments sleep 1/100 of real time in tests; no stray .env is read."""
    monkeypatch.setenv("LABDECK_DEMO_TIME_SCALE", "0.01")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --- databases ---------------------------------------------------------------------------


def postgres_server_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if _required("LABDECK_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL tests are required here but {POSTGRES_ENV} is not set")
        pytest.skip(f"no PostgreSQL: set {POSTGRES_ENV} (CI starts a throwaway server)")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(postgres_server_url() or "")
    name = f"labdeck_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'labdeck.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# --- settings, decks, services -------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        admin_password=ADMIN_PASSWORD,
        call_lock_wait_s=0.2,
        demo_time_scale=0.01,
    )


@pytest.fixture(scope="session")
def demo_deck() -> Deck:
    """The demo lab, loaded and introspected once (instrument state is reset per test)."""
    from labdeck.demo import DECK_MODULE
    from labdeck.server import load_deck

    return load_deck(DECK_MODULE)


@pytest.fixture
def make_services(settings: Settings) -> Iterator[Callable[..., Services]]:
    built: list[Services] = []

    def factory(deck: Deck, **overrides: Any) -> Services:
        services = build_services(settings.model_copy(update=overrides), deck)
        built.append(services)
        return services

    yield factory
    for services in built:
        services.close()


@pytest.fixture
def services(make_services: Callable[..., Services], demo_deck: Deck) -> Services:
    import labdeck.demo.deck as demo_module

    demo_module.reset_bench(seed=1)
    return make_services(demo_deck)


# --- HTTP clients --------------------------------------------------------------------------


@pytest.fixture
def app_client(services: Services) -> Iterator[TestClient]:
    """An unauthenticated client of the app over `services` (lifespan runs)."""
    with TestClient(create_app(services)) as client:
        yield client


def bearer_for(services: Services, name: str, role: str) -> dict[str, str]:
    from datetime import timedelta

    if name != "admin":
        services.auth.create_user(name, ROLE_PASSWORD, role)
    user = services.auth.get_user(name)
    issued = services.auth.issue_token(user, kind="api", ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def admin_headers(services: Services) -> dict[str, str]:
    return bearer_for(services, "admin", "admin")


@pytest.fixture
def operator_headers(services: Services) -> dict[str, str]:
    return bearer_for(services, "olga", "operator")


@pytest.fixture
def viewer_headers(services: Services) -> dict[str, str]:
    return bearer_for(services, "victor", "viewer")


@pytest.fixture
def client(app_client: TestClient, operator_headers: dict[str, str]) -> TestClient:
    """A client signed in as an operator (Bearer token)."""
    app_client.headers.update(operator_headers)
    return app_client


# --- browser -------------------------------------------------------------------------------


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if _required("LABDECK_TEST_REQUIRE_BROWSER"):
            pytest.fail("browser tests are required here but Debian's chromium is not installed")
        pytest.skip("no chromium: `apt-get install chromium` to run browser tests")
    return path
