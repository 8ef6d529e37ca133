"""Routes for the workflow library: drafts, versions, Python export, import, JSON Schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import BaseModel, Field

from labdeck.api.deps import CurrentUser, Operator, ServicesDep
from labdeck.api.openapi import AUTHED, errors
from labdeck.store.repo_workflows import VersionRecord, WorkflowRecord
from labdeck.workflow.library import WorkflowView
from labdeck.workflow.model import workflow_json_schema
from labdeck.workflow.report import ImportNote

router = APIRouter(prefix="/api", tags=["workflows"])

WorkflowStatus = Literal["active", "paused_safety", "archived"]
DocumentBody = Annotated[
    dict[str, Any], Body(description="A `labdeck.workflow/1` document (see /api/schemas/workflow).")
]


class ProblemOut(BaseModel):
    step: str | None = Field(description="The step id, or null for the whole document.")
    field: str
    message: str


class WorkflowSummary(BaseModel):
    id: str
    name: str
    description: str
    tags: list[str]
    status: WorkflowStatus
    deck: str
    active_version: int | None
    draft_updated_at: datetime
    draft_updated_by: str | None

    @classmethod
    def of(cls, record: WorkflowRecord) -> WorkflowSummary:
        return cls(
            id=str(record.id),
            name=record.name,
            description=record.description,
            tags=record.tags,
            status=record.status,
            deck=record.deck_name,
            active_version=record.active_version,
            draft_updated_at=record.draft_updated_at,
            draft_updated_by=record.draft_updated_by,
        )


class WorkflowOut(WorkflowSummary):
    draft: dict[str, Any]
    problems: list[ProblemOut] = Field(description="The draft checked against the live deck.")
    drift: list[ProblemOut] = Field(
        description="Steps of the active version that no longer fit the live deck."
    )

    @classmethod
    def of_view(cls, view: WorkflowView) -> WorkflowOut:
        return cls(
            **WorkflowSummary.of(view.record).model_dump(),
            draft=view.record.draft,
            problems=[ProblemOut(**p.model_dump()) for p in view.problems],
            drift=[ProblemOut(**p.model_dump()) for p in view.drift],
        )


class DraftSaved(BaseModel):
    problems: list[ProblemOut]


class Published(BaseModel):
    version: int


class VersionOut(BaseModel):
    number: int
    published_at: datetime
    published_by: str | None
    deck: str
    deck_fingerprint: str
    document: dict[str, Any]
    drift: list[ProblemOut] = Field(default_factory=list)

    @classmethod
    def of(cls, record: VersionRecord, drift: list[Any] | None = None) -> VersionOut:
        return cls(
            number=record.number,
            published_at=record.published_at,
            published_by=record.published_by,
            deck=record.deck_name,
            deck_fingerprint=record.deck_fingerprint,
            document=record.document,
            drift=[ProblemOut(**p.model_dump()) for p in drift or []],
        )


class PreviewOut(BaseModel):
    problems: list[ProblemOut]
    python: str = Field(description="The document as the Python export would render it.")


class ImportedOut(WorkflowOut):
    report: list[ImportNote]


class DuplicateRequest(BaseModel):
    name: str = Field(description="Name of the copy.")


@router.get(
    "/schemas/workflow",
    responses=errors(*AUTHED),
    summary="JSON Schema of the labdeck.workflow/1 document",
)
async def workflow_schema(_user: CurrentUser) -> dict[str, Any]:
    return workflow_json_schema()


@router.get(
    "/workflows",
    response_model=list[WorkflowSummary],
    responses=errors(*AUTHED, 422),
    summary="Search the library (archived ones only with status=archived)",
)
async def list_workflows(
    _user: CurrentUser,
    services: ServicesDep,
    q: str | None = Query(default=None, description="Text in the name or description"),
    tag: str | None = None,
    status: WorkflowStatus | None = None,
    deck: str | None = Query(default=None, description="Deck the workflow was made for"),
) -> list[WorkflowSummary]:
    records = services.workflows.search(text=q, tag=tag, status=status, deck_name=deck)
    return [WorkflowSummary.of(record) for record in records]


@router.post(
    "/workflows",
    response_model=WorkflowOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(*AUTHED, 409, 422),
    summary="Create a workflow; its draft is the document given",
)
async def create_workflow(body: DocumentBody, user: Operator, services: ServicesDep) -> WorkflowOut:
    return WorkflowOut.of_view(services.workflows.create(body, user=user.name))


@router.post(
    "/workflows/preview",
    response_model=PreviewOut,
    responses=errors(*AUTHED, 422),
    summary="Check an unsaved document: its problems and its Python export (nothing is saved)",
)
async def preview(body: DocumentBody, _user: CurrentUser, services: ServicesDep) -> PreviewOut:
    problems, python = services.workflows.preview(body)
    return PreviewOut(problems=[ProblemOut(**p.model_dump()) for p in problems], python=python)


@router.post(
    "/workflows/import",
    response_model=ImportedOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(*AUTHED, 409, 422),
    summary="Import our format, an IvoryOS workflow JSON, or {python, function}",
)
async def import_workflow(
    body: Annotated[dict[str, Any], Body()], user: Operator, services: ServicesDep
) -> ImportedOut:
    outcome = services.workflows.import_payload(body, user=user.name)
    return ImportedOut(**WorkflowOut.of_view(outcome.view).model_dump(), report=outcome.report)


@router.get(
    "/workflows/{ref}",
    response_model=WorkflowOut,
    responses=errors(*AUTHED, 404),
    summary="A workflow with its draft, problems and drift (by id or name)",
)
async def get_workflow(ref: str, _user: CurrentUser, services: ServicesDep) -> WorkflowOut:
    return WorkflowOut.of_view(services.workflows.get(ref))


@router.put(
    "/workflows/{ref}/draft",
    response_model=DraftSaved,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Replace the draft (saved even with problems)",
)
async def save_draft(
    ref: str, body: DocumentBody, user: Operator, services: ServicesDep
) -> DraftSaved:
    view = services.workflows.update_draft(ref, body, user=user.name)
    return DraftSaved(problems=[ProblemOut(**p.model_dump()) for p in view.problems])


@router.post(
    "/workflows/{ref}/publish",
    response_model=Published,
    status_code=status.HTTP_201_CREATED,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Freeze the draft as the next version and make it active",
)
async def publish(ref: str, user: Operator, services: ServicesDep) -> Published:
    return Published(version=services.workflows.publish(ref, user=user.name).number)


@router.get(
    "/workflows/{ref}/versions",
    response_model=list[VersionOut],
    responses=errors(*AUTHED, 404),
    summary="Published versions, oldest first",
)
async def list_versions(ref: str, _user: CurrentUser, services: ServicesDep) -> list[VersionOut]:
    return [VersionOut.of(record) for record in services.workflows.versions(ref)]


@router.get(
    "/workflows/{ref}/versions/{number}",
    response_model=VersionOut,
    responses=errors(*AUTHED, 404, 422),
    summary="One version, with the steps the live deck no longer fits",
)
async def get_version(
    ref: str, number: int, _user: CurrentUser, services: ServicesDep
) -> VersionOut:
    view = services.workflows.version(ref, number)
    return VersionOut.of(view.record, view.drift)


@router.get(
    "/workflows/{ref}/versions/{number}/python",
    response_class=Response,
    responses={200: {"content": {"text/x-python": {}}}, **errors(*AUTHED, 404, 422)},
    summary="The version as a readable Python script",
)
async def version_python(
    ref: str, number: int, _user: CurrentUser, services: ServicesDep
) -> Response:
    from labdeck.workflow.render_python import render_python

    document = services.workflows.document(ref, number)
    return Response(
        render_python(document, services.deck.schema),
        media_type="text/x-python",
        headers={"Content-Disposition": f'attachment; filename="{_file_stem(document.name)}.py"'},
    )


@router.get(
    "/workflows/{ref}/export",
    responses=errors(*AUTHED, 404, 422),
    summary="The draft, or a version, as a labdeck.workflow/1 JSON file",
)
async def export_workflow(
    ref: str,
    _user: CurrentUser,
    services: ServicesDep,
    version: int | None = Query(default=None, description="Empty: the draft"),
) -> Response:
    document = services.workflows.document(ref, version)
    filename = f"{_file_stem(document.name)}{f'-v{version}' if version else '-draft'}.json"
    return Response(
        document.model_dump_json(by_alias=True, exclude_defaults=True, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/workflows/{ref}/duplicate",
    response_model=WorkflowOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Save as: a new workflow with a copy of this draft",
)
async def duplicate(
    ref: str, body: DuplicateRequest, user: Operator, services: ServicesDep
) -> WorkflowOut:
    return WorkflowOut.of_view(services.workflows.duplicate(ref, body.name, user=user.name))


@router.post(
    "/workflows/{ref}/archive",
    response_model=WorkflowSummary,
    responses=errors(*AUTHED, 404),
    summary="Hide from the library (versions are kept)",
)
async def archive(ref: str, _user: Operator, services: ServicesDep) -> WorkflowSummary:
    return WorkflowSummary.of(services.workflows.archive(ref))


@router.post(
    "/workflows/{ref}/safety/clear",
    response_model=WorkflowSummary,
    responses=errors(*AUTHED, 404, 409),
    summary="Clear a safety pause so the workflow can run again",
)
async def clear_safety(ref: str, _user: Operator, services: ServicesDep) -> WorkflowSummary:
    return WorkflowSummary.of(services.workflows.clear_safety(ref))


@router.post(
    "/workflows/{ref}/restore",
    response_model=WorkflowSummary,
    responses=errors(*AUTHED, 404, 409),
    summary="Bring an archived workflow back",
)
async def restore(ref: str, _user: Operator, services: ServicesDep) -> WorkflowSummary:
    return WorkflowSummary.of(services.workflows.restore(ref))


def _file_stem(name: str) -> str:
    """Names may hold spaces and dots; downloads get a plain file name."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_") or "workflow"
