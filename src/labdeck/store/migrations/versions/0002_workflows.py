"""Workflows and their immutable versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from labdeck.store.orm import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

IMMUTABLE_MESSAGE = "workflow versions are immutable"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deck_name", sa.String(length=128), nullable=False),
        sa.Column("draft", _json(), nullable=False),
        sa.Column("draft_updated_at", UTCDateTime(), nullable=False),
        sa.Column("draft_updated_by", sa.String(length=64), nullable=True),
        sa.Column("active_version", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("name", name=op.f("uq_workflows_name")),
    )
    op.create_table(
        "workflow_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=True),
        sa.Column("deck_name", sa.String(length=128), nullable=False),
        sa.Column("deck_fingerprint", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_versions_workflow_id_workflows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_versions")),
        sa.UniqueConstraint(
            "workflow_id", "number", name=op.f("uq_workflow_versions_workflow_id_number")
        ),
    )
    op.create_index(op.f("ix_workflow_versions_workflow_id"), "workflow_versions", ["workflow_id"])
    _create_immutability_triggers()


def _create_immutability_triggers() -> None:
    """A published version never changes, whatever code (or person with SQL) tries."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION labdeck_refuse_version_change() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{IMMUTABLE_MESSAGE}'; END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER workflow_versions_immutable BEFORE UPDATE OR DELETE "
            "ON workflow_versions FOR EACH ROW EXECUTE FUNCTION labdeck_refuse_version_change()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER workflow_versions_no_{event.lower()} BEFORE {event} "
            f"ON workflow_versions BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_MESSAGE}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER workflow_versions_immutable ON workflow_versions")
        op.execute("DROP FUNCTION labdeck_refuse_version_change()")
    else:
        op.execute("DROP TRIGGER workflow_versions_no_update")
        op.execute("DROP TRIGGER workflow_versions_no_delete")
    op.drop_index(op.f("ix_workflow_versions_workflow_id"), table_name="workflow_versions")
    op.drop_table("workflow_versions")
    op.drop_table("workflows")
