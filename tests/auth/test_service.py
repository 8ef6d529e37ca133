"""Users, passwords, tokens, roles and the first-start admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from labdeck.auth.service import AuthService, Principal, require_role
from labdeck.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, RateLimited
from labdeck.store.db import create_db_engine
from labdeck.store.migrate import upgrade
from labdeck.store.repo_users import TokenRepository, UserRepository

SECRET = "a-test-secret-key-that-is-long"


@pytest.fixture
def engine(tmp_path) -> Engine:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'auth.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def auth(engine: Engine) -> AuthService:
    return AuthService(UserRepository(engine), TokenRepository(engine), SECRET)


def test_passwords_are_argon2_hashed_and_checked(auth: AuthService) -> None:
    user = auth.create_user("ada", "correct horse", "operator")
    assert user.password_hash.startswith("$argon2")
    assert "correct horse" not in user.password_hash
    assert auth.check_password("ada", "correct horse").name == "ada"
    with pytest.raises(NotAuthenticated):
        auth.check_password("ada", "wrong password")
    with pytest.raises(NotAuthenticated):
        auth.check_password("nobody", "correct horse")


def test_user_input_is_validated(auth: AuthService) -> None:
    with pytest.raises(InvalidInput):
        auth.create_user("has space", "long enough", "operator")
    with pytest.raises(InvalidInput):
        auth.create_user("ada", "short", "operator")
    with pytest.raises(InvalidInput):
        auth.create_user("ada", "long enough", "superuser")
    auth.create_user("ada", "long enough", "viewer")
    with pytest.raises(Conflict):
        auth.create_user("ada", "long enough", "viewer")


def test_tokens_resolve_to_the_user_and_role_and_are_stored_hashed(
    auth: AuthService, engine: Engine
) -> None:
    user = auth.create_user("ada", "long enough", "operator")
    issued = auth.issue_token(user, kind="api", ttl=timedelta(hours=1))
    principal = auth.resolve(issued.token)
    assert principal == Principal(name="ada", role="operator", token_id=1, token_kind="api")
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT token_hash FROM tokens").scalar()
    assert stored != issued.token
    assert issued.token not in str(stored)
    assert auth.resolve("not-a-token") is None


def test_revoked_and_expired_tokens_stop_working(auth: AuthService) -> None:
    user = auth.create_user("ada", "long enough", "operator")
    issued = auth.issue_token(user, kind="api", ttl=timedelta(hours=1))
    assert auth.resolve(issued.token) is not None
    auth.revoke(issued.token)
    assert auth.resolve(issued.token) is None
    expired = auth.issue_token(user, kind="api", ttl=timedelta(seconds=-1))
    assert auth.resolve(expired.token) is None


def test_password_change_and_disabling_sign_the_user_out(auth: AuthService) -> None:
    user = auth.create_user("ada", "long enough", "operator")
    first = auth.issue_token(user, kind="session", ttl=timedelta(hours=1))
    assert auth.resolve(first.token) is not None
    auth.update_user("ada", password="a new password")
    assert auth.resolve(first.token) is None
    second = auth.issue_token(user, kind="api", ttl=timedelta(hours=1))
    auth.update_user("ada", disabled=True)
    assert auth.resolve(second.token) is None
    with pytest.raises(NotAuthenticated):
        auth.check_password("ada", "a new password")


def test_role_change_is_seen_at_once_despite_the_cache(auth: AuthService) -> None:
    user = auth.create_user("ada", "long enough", "viewer")
    issued = auth.issue_token(user, kind="api", ttl=timedelta(hours=1))
    assert auth.resolve(issued.token).role == "viewer"  # type: ignore[union-attr]
    auth.update_user("ada", role="operator")
    assert auth.resolve(issued.token).role == "operator"  # type: ignore[union-attr]


def test_repeated_failed_logins_are_throttled(auth: AuthService) -> None:
    auth.create_user("ada", "long enough", "viewer")
    for _ in range(10):
        with pytest.raises(NotAuthenticated):
            auth.check_password("ada", "wrong guess")
    with pytest.raises(RateLimited):
        auth.check_password("ada", "long enough")


def test_roles_are_ordered() -> None:
    admin = Principal("a", "admin", 1, "api")
    viewer = Principal("v", "viewer", 2, "api")
    require_role(admin, "operator")
    with pytest.raises(Forbidden):
        require_role(viewer, "operator")


def test_bootstrap_creates_admin_once(auth: AuthService) -> None:
    generated = auth.bootstrap_admin(None)
    assert generated is not None
    assert len(generated) >= 12
    assert auth.check_password("admin", generated).role == "admin"
    assert auth.bootstrap_admin(None) is None


def test_bootstrap_uses_the_configured_password(auth: AuthService) -> None:
    assert auth.bootstrap_admin("configured-password") is None
    assert auth.check_password("admin", "configured-password").role == "admin"
