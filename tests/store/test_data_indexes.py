"""Migration 0005: the runs' trigger kind becomes a column, filled from existing runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text

from labdeck.store.db import create_db_engine
from labdeck.store.migrate import downgrade, upgrade


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def test_existing_runs_get_their_trigger_kind_and_the_lists_their_indexes(engine: Engine) -> None:
    upgrade(engine, "0004")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO workflows (id, name, description, tags, status, deck_name, draft,"
                " draft_updated_at, created_at) VALUES (1, 'w', '', '[]', 'active', '', '{}',"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        for run_id, trigger in ((1, '{"kind": "webhook", "by": null}'), (2, "{}")):
            connection.execute(
                text(
                    'INSERT INTO runs (id, name, workflow_id, version, status, "trigger", mode,'
                    " options, queue_position, progress, created_at) VALUES (:id, 'r', 1, 1,"
                    " 'completed', :trigger, '{}', '{}', 0, '{}', '2026-01-01 00:00:00')"
                ),
                {"id": run_id, "trigger": trigger},
            )
    upgrade(engine)
    with engine.connect() as connection:
        kinds = connection.execute(text("SELECT id, trigger_kind FROM runs ORDER BY id")).all()
    assert [tuple(row) for row in kinds] == [(1, "webhook"), (2, "manual")]
    indexes = {index["name"] for index in inspect(engine).get_indexes("runs")}
    assert {"ix_runs_status_id", "ix_runs_workflow_id_id", "ix_runs_trigger_kind_id"} <= indexes
    assert "ix_runs_workflow_id" not in indexes
    downgrade(engine, "0004")
    columns = {column["name"] for column in inspect(engine).get_columns("runs")}
    assert "trigger_kind" not in columns
    assert "ix_runs_workflow_id" in {i["name"] for i in inspect(engine).get_indexes("runs")}
