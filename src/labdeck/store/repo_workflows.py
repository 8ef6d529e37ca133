"""Workflows and their published versions.

Versions are only ever inserted (database triggers refuse updates and deletes). Publishing
takes a row lock on the workflow so two publishers cannot both make version n+1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from labdeck.store.orm import Workflow, WorkflowVersion, utcnow


@dataclass(frozen=True)
class WorkflowRecord:
    id: int
    name: str
    description: str
    tags: list[str]
    status: str
    deck_name: str
    draft: dict[str, Any]
    draft_updated_at: datetime
    draft_updated_by: str | None
    active_version: int | None
    created_at: datetime
    created_by: str | None


@dataclass(frozen=True)
class VersionRecord:
    workflow_id: int
    number: int
    document: dict[str, Any]
    published_at: datetime
    published_by: str | None
    deck_name: str
    deck_fingerprint: str


class DuplicateWorkflow(Exception):
    pass


def _workflow(row: Workflow) -> WorkflowRecord:
    return WorkflowRecord(
        id=row.id,
        name=row.name,
        description=row.description,
        tags=list(row.tags or []),
        status=row.status,
        deck_name=row.deck_name,
        draft=dict(row.draft),
        draft_updated_at=row.draft_updated_at,
        draft_updated_by=row.draft_updated_by,
        active_version=row.active_version,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _version(row: WorkflowVersion) -> VersionRecord:
    return VersionRecord(
        workflow_id=row.workflow_id,
        number=row.number,
        document=dict(row.document),
        published_at=row.published_at,
        published_by=row.published_by,
        deck_name=row.deck_name,
        deck_fingerprint=row.deck_fingerprint,
    )


class WorkflowRepository:
    def __init__(self, engine: Engine) -> None:
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    def create(self, *, draft: dict[str, Any], deck_name: str, user: str | None) -> WorkflowRecord:
        with self._sessions() as session:
            row = Workflow(
                name=draft["name"],
                description=draft.get("description", ""),
                tags=list(draft.get("tags", [])),
                status="active",
                deck_name=deck_name,
                draft=draft,
                draft_updated_by=user,
                created_by=user,
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError as exc:
                raise DuplicateWorkflow(draft["name"]) from exc
            return _workflow(row)

    def get(self, workflow_id: int) -> WorkflowRecord | None:
        with self._sessions() as session:
            row = session.get(Workflow, workflow_id)
            return _workflow(row) if row is not None else None

    def get_by_name(self, name: str) -> WorkflowRecord | None:
        with self._sessions() as session:
            row = session.scalar(select(Workflow).where(Workflow.name == name))
            return _workflow(row) if row is not None else None

    def update_draft(
        self, workflow_id: int, draft: dict[str, Any], user: str | None
    ) -> WorkflowRecord:
        """Replace the draft; the library's name, description and tags follow the draft."""
        with self._sessions() as session:
            row = session.get(Workflow, workflow_id)
            assert row is not None
            row.draft = draft
            row.name = draft["name"]
            row.description = draft.get("description", "")
            row.tags = list(draft.get("tags", []))
            row.draft_updated_at = utcnow()
            row.draft_updated_by = user
            try:
                session.commit()
            except IntegrityError as exc:
                raise DuplicateWorkflow(draft["name"]) from exc
            return _workflow(row)

    def set_status(self, workflow_id: int, status: str) -> WorkflowRecord:
        with self._sessions() as session:
            row = session.get(Workflow, workflow_id)
            assert row is not None
            row.status = status
            session.commit()
            return _workflow(row)

    def publish(
        self,
        workflow_id: int,
        *,
        document: dict[str, Any],
        user: str | None,
        deck_name: str,
        deck_fingerprint: str,
    ) -> VersionRecord:
        """Freeze `document` as the next version and make it active."""
        with self._sessions() as session:
            row = session.scalar(
                select(Workflow).where(Workflow.id == workflow_id).with_for_update()
            )
            assert row is not None
            latest = session.scalar(
                select(func.max(WorkflowVersion.number)).where(
                    WorkflowVersion.workflow_id == workflow_id
                )
            )
            version = WorkflowVersion(
                workflow_id=workflow_id,
                number=(latest or 0) + 1,
                document=document,
                published_by=user,
                deck_name=deck_name,
                deck_fingerprint=deck_fingerprint,
            )
            session.add(version)
            row.active_version = version.number
            session.commit()
            return _version(version)

    def versions(self, workflow_id: int) -> list[VersionRecord]:
        with self._sessions() as session:
            rows = session.scalars(
                select(WorkflowVersion)
                .where(WorkflowVersion.workflow_id == workflow_id)
                .order_by(WorkflowVersion.number)
            )
            return [_version(row) for row in rows]

    def version(self, workflow_id: int, number: int) -> VersionRecord | None:
        with self._sessions() as session:
            row = session.scalar(
                select(WorkflowVersion).where(
                    WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.number == number
                )
            )
            return _version(row) if row is not None else None

    def search(
        self,
        *,
        text: str | None = None,
        status: str | None = None,
        deck_name: str | None = None,
    ) -> list[WorkflowRecord]:
        """Workflows by name/description text, status and deck, by name. Tags: see caller."""
        query = select(Workflow).order_by(Workflow.name)
        if text:
            pattern = f"%{text.lower()}%"
            query = query.where(
                or_(
                    func.lower(Workflow.name).like(pattern),
                    func.lower(Workflow.description).like(pattern),
                )
            )
        if status:
            query = query.where(Workflow.status == status)
        if deck_name:
            query = query.where(Workflow.deck_name == deck_name)
        with self._sessions() as session:
            return [_workflow(row) for row in session.scalars(query)]
