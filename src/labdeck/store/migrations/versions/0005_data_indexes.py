"""Indexes for the data pages' filters, and the run's trigger kind as a column.

Every runs list is newest first with a keyset cursor (`id < cursor`), so each filter gets an
index that ends in `id`: the database walks it backwards and stops after one page. The
trigger kind lives inside the `trigger` JSON; a plain column makes it indexable on both
backends (existing rows are filled from the JSON).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

RUN_INDEXES = {
    "ix_runs_workflow_id_id": ["workflow_id", "id"],
    "ix_runs_status_id": ["status", "id"],
    "ix_runs_trigger_kind_id": ["trigger_kind", "id"],
    "ix_runs_created_by_id": ["created_by", "id"],
    "ix_runs_created_at": ["created_at"],
    "ix_runs_replay_of": ["replay_of"],
}
CALL_INDEXES = {
    "ix_calls_status_id": ["status", "id"],
    "ix_calls_user_name_id": ["user_name", "id"],
    "ix_calls_started_at": ["started_at"],
}
STEP_INDEX = "ix_run_steps_run_id_phase_iteration_id"


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column("trigger_kind", sa.String(length=16), nullable=False, server_default="manual"),
    )
    if op.get_bind().dialect.name == "postgresql":
        kind = """"trigger"->>'kind'"""
    else:
        kind = """json_extract("trigger", '$.kind')"""
    # `kind` is one of the two constant expressions above: nothing from outside
    op.execute(f"UPDATE runs SET trigger_kind = COALESCE(substr({kind}, 1, 16), 'manual')")  # noqa: S608
    # (workflow_id, id) serves the foreign key as well as the old single-column index did
    op.drop_index("ix_runs_workflow_id", table_name="runs")
    for name, columns in RUN_INDEXES.items():
        op.create_index(name, "runs", columns)
    for name, columns in CALL_INDEXES.items():
        op.create_index(name, "calls", columns)
    op.create_index(STEP_INDEX, "run_steps", ["run_id", "phase", "iteration", "id"])


def downgrade() -> None:
    op.drop_index(STEP_INDEX, table_name="run_steps")
    for name in CALL_INDEXES:
        op.drop_index(name, table_name="calls")
    for name in RUN_INDEXES:
        op.drop_index(name, table_name="runs")
    op.create_index("ix_runs_workflow_id", "runs", ["workflow_id"])
    op.drop_column("runs", "trigger_kind")
