"""ORM tables. Alembic migrations in `store/migrations` create them; a test keeps both equal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonColumn = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Token(Base):
    """An API token (`kind="api"`) or a browser session (`kind="session"`).

    Only an HMAC of the token is stored, so a database leak does not leak logins.
    """

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Call(Base):
    """One direct-control invocation, recorded before it runs and updated after."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_target_id", "target", "id"),
        Index("ix_calls_status_id", "status", "id"),
        Index("ix_calls_user_name_id", "user_name", "id"),
        Index("ix_calls_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(255))
    args: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    output: Mapped[Any] = mapped_column(JsonColumn, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    user_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    deck_fingerprint: Mapped[str] = mapped_column(String(32), default="")


class DeckSnapshot(Base):
    """The interface schema of a deck each time its fingerprint changes."""

    __tablename__ = "deck_snapshots"
    __table_args__ = (UniqueConstraint("name", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(32))
    schema_json: Mapped[dict[str, Any]] = mapped_column("schema", JsonColumn)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Workflow(Base):
    """A workflow in the library: its editable draft and which version is active."""

    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    deck_name: Mapped[str] = mapped_column(String(128), default="")
    draft: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    draft_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    draft_updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WorkflowVersion(Base):
    """A published version: immutable (database triggers refuse updates and deletes)."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deck_name: Mapped[str] = mapped_column(String(128), default="")
    deck_fingerprint: Mapped[str] = mapped_column(String(32), default="")


class Run(Base):
    """One execution of one pinned workflow version.

    The list filters' indexes end in `id`: lists are newest first with an `id` cursor.
    """

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_status_queue_position", "status", "queue_position"),
        Index("ix_runs_workflow_id_id", "workflow_id", "id"),
        Index("ix_runs_status_id", "status", "id"),
        Index("ix_runs_trigger_kind_id", "trigger_kind", "id"),
        Index("ix_runs_created_by_id", "created_by", "id"),
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_replay_of", "replay_of"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    trigger: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    # `trigger["kind"]` again, as a column the list filter can index
    trigger_kind: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    mode: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    queue_position: Mapped[int] = mapped_column(Integer, default=0)
    replay_of: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn, nullable=True)
    progress: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RunEvent(Base):
    """Something that happened to a run, written in the transaction that made it happen."""

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)


class RunStep(Base):
    """One executed (or skipped) step of a run: committed before the call and after it."""

    __tablename__ = "run_steps"
    # one iteration's steps, and per-iteration summaries, without reading the whole run
    __table_args__ = (
        Index("ix_run_steps_run_id_phase_iteration_id", "run_id", "phase", "iteration", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    phase: Mapped[str] = mapped_column(String(8))
    iteration: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sample: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    args: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    output: Mapped[Any] = mapped_column(JsonColumn, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RunSample(Base):
    """The parameters and outputs of one sample of one iteration, committed when it ends."""

    __tablename__ = "run_samples"
    __table_args__ = (UniqueConstraint("run_id", "iteration", "sample"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    iteration: Mapped[int] = mapped_column(Integer)
    sample: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueState(Base):
    """Whether a deck's queue starts new runs (kept across restarts)."""

    __tablename__ = "queue_state"

    deck_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
