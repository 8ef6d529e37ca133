"""The store on both backends: migrations, connection settings, repositories."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from labdeck.store.db import create_db_engine
from labdeck.store.migrate import (
    HEAD_REVISION,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from labdeck.store.orm import Base
from labdeck.store.repo_calls import CallRepository
from labdeck.store.repo_deck import DeckSnapshotRepository
from labdeck.store.repo_users import DuplicateUser, TokenRepository, UserRepository


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_migrations_reach_head_and_match_the_orm(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert {"users", "tokens", "calls", "deck_snapshots"} <= set(inspect(engine).get_table_names())


def test_the_fast_start_up_check_knows_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION


def test_a_first_upgrade_logs_one_line_not_alembics_set_up(tmp_path: Path) -> None:
    # In a fresh process, since importing Alembic is what logs its plugin set-up.
    code = (
        "import logging, sys; from labdeck.store.db import create_db_engine; "
        "from labdeck.store.migrate import upgrade; "
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(name)s'); "
        f"upgrade(create_db_engine('sqlite:///{tmp_path / 'new.db'}'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["labdeck.store.migrate"]


def test_upgrade_twice_is_harmless_and_downgrade_removes_tables(engine: Engine) -> None:
    upgrade(engine)
    downgrade(engine, "base")
    assert "calls" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "calls" in inspect(engine).get_table_names()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    engine.dispose()


def _start(calls: CallRepository, target: str = "pump.dispense", user: str = "olga") -> int:
    return calls.start(
        kind="method",
        target=target,
        args={"volume_ml": 2.5, "solvent": "water"},
        user_name=user,
        forced=False,
        deck_fingerprint="abc",
        started_at=datetime.now(UTC),
    )


def test_a_call_is_recorded_running_then_finished(engine: Engine) -> None:
    calls = CallRepository(engine)
    call_id = _start(calls)
    running = calls.get(call_id)
    assert running is not None
    assert running.status == "running"
    assert running.args == {"volume_ml": 2.5, "solvent": "water"}
    assert running.started_at.tzinfo is not None

    calls.finish(
        call_id,
        status="completed",
        output={"values": [1, 2.5, "x"], "nested": {"ok": True}},
        error=None,
        ended_at=datetime.now(UTC),
        duration_s=0.01,
    )
    done = calls.get(call_id)
    assert done is not None
    assert done.status == "completed"
    assert done.output == {"values": [1, 2.5, "x"], "nested": {"ok": True}}
    assert done.ended_at is not None
    assert done.ended_at >= done.started_at


def test_call_listing_is_newest_first_with_cursor_and_filters(engine: Engine) -> None:
    calls = CallRepository(engine)
    ids = [_start(calls, target=f"t.m{i % 2}", user="olga" if i < 3 else "ada") for i in range(5)]
    page = calls.list(limit=2)
    assert [c.id for c in page] == [ids[4], ids[3]]
    older = calls.list(limit=10, before_id=page[-1].id)
    assert [c.id for c in older] == [ids[2], ids[1], ids[0]]
    assert {c.target for c in calls.list(limit=10, target="t.m0")} == {"t.m0"}
    assert {c.user_name for c in calls.list(limit=10, user_name="ada")} == {"ada"}
    assert calls.list(limit=10, status="completed") == []


def test_calls_left_running_by_a_crash_are_failed(engine: Engine) -> None:
    calls = CallRepository(engine)
    call_id = _start(calls)
    error = {"code": "SERVER_RESTART", "message": "x", "retryable": True, "detail": {}}
    assert calls.fail_unfinished(error=error, ended_at=datetime.now(UTC)) == 1
    record = calls.get(call_id)
    assert record is not None
    assert record.status == "failed"
    assert record.error == error


def test_users_are_unique_and_updatable(engine: Engine) -> None:
    users = UserRepository(engine)
    created = users.create("ada", "hash", "operator")
    with pytest.raises(DuplicateUser):
        users.create("ada", "hash2", "viewer")
    updated = users.update("ada", role="admin", disabled=True)
    assert updated is not None
    assert (updated.role, updated.disabled) == ("admin", True)
    assert users.update("nobody", role="admin") is None
    assert users.count() == 1
    assert created.created_at.tzinfo is not None


def test_tokens_resolve_until_revoked_or_expired(engine: Engine) -> None:
    users = UserRepository(engine)
    tokens = TokenRepository(engine)
    user = users.create("ada", "hash", "operator")
    now = datetime.now(UTC)
    tokens.create(
        user_id=user.id, kind="api", token_hash="h1", label="", expires_at=now + timedelta(hours=1)
    )
    tokens.create(
        user_id=user.id,
        kind="api",
        token_hash="h2",
        label="",
        expires_at=now - timedelta(seconds=1),
    )
    owner = tokens.owner("h1", now)
    assert owner is not None
    assert owner.user.name == "ada"
    assert tokens.owner("h2", now) is None
    assert tokens.revoke("h1") is True
    assert tokens.owner("h1", now) is None
    assert tokens.revoke("h1") is False


def test_deleting_a_user_row_cascades_to_tokens(engine: Engine) -> None:
    users = UserRepository(engine)
    tokens = TokenRepository(engine)
    user = users.create("ada", "hash", "operator")
    tokens.create(
        user_id=user.id,
        kind="session",
        token_hash="h",
        label="",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM users WHERE name = 'ada'"))
        assert connection.execute(text("SELECT count(*) FROM tokens")).scalar() == 0


def test_deck_snapshots_are_kept_per_new_fingerprint(engine: Engine) -> None:
    snapshots = DeckSnapshotRepository(engine)
    assert snapshots.record("bench", "f1", {"name": "bench", "v": 1}) is True
    assert snapshots.record("bench", "f1", {"name": "bench", "v": 1}) is False
    assert snapshots.record("bench", "f2", {"name": "bench", "v": 2}) is True
    assert snapshots.fingerprints("bench") == ["f2", "f1"]
    snapshots.record("bench", "f1", {"name": "bench", "v": 1})  # the old interface is back
    assert snapshots.fingerprints("bench") == ["f1", "f2"]
    assert snapshots.get("bench", "f1") == {"name": "bench", "v": 1}
    assert snapshots.get("bench", "nope") is None
