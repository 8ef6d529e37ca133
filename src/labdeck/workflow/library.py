"""The workflow library: drafts, immutable published versions, search, import and export.

Owns every change to a workflow: creating one, replacing its draft (saved even with
problems), publishing the draft as version n+1 (refused while it has problems; sub-workflow
steps get the version that is active at that moment frozen into the published document),
duplicating ("save as"), archiving and restoring. It also answers how a version fits the
live deck today (drift), so operators see which steps a deck change broke before a run does.

Workflows are referred to by id or by name (`ref`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from labdeck.deck.bindings import Deck
from labdeck.errors import Conflict, InvalidInput, NotFound, field_problems
from labdeck.store.repo_workflows import (
    DuplicateWorkflow,
    VersionRecord,
    WorkflowRecord,
    WorkflowRepository,
)
from labdeck.workflow.model import FORMAT, WorkflowCallStep, WorkflowDocument, iter_steps
from labdeck.workflow.report import ImportFailed, ImportNote
from labdeck.workflow.validate import Problem, drift, parameter_schemas, validate_workflow


@dataclass(frozen=True)
class WorkflowView:
    """A workflow as the API and pages show it."""

    record: WorkflowRecord
    problems: list[Problem]
    drift: list[Problem]


@dataclass(frozen=True)
class VersionView:
    record: VersionRecord
    drift: list[Problem]


@dataclass(frozen=True)
class ImportOutcome:
    view: WorkflowView
    report: list[ImportNote] = field(default_factory=list)


def parse_document(raw: Any) -> WorkflowDocument:
    """A workflow document from JSON, or 422 with per-field problems."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"a workflow must be a JSON object in the {FORMAT!r} format")
    try:
        return WorkflowDocument.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(
            f"this is not a valid {FORMAT!r} document", fields=field_problems(exc.errors())
        ) from exc


class WorkflowLibrary:
    def __init__(self, repository: WorkflowRepository, deck: Deck) -> None:
        self._repo = repository
        self._deck = deck

    # --- reading ---------------------------------------------------------------------------

    def get(self, ref: str) -> WorkflowView:
        record = self._record(ref)
        return WorkflowView(record, self.problems(record.draft), self._active_drift(record))

    def search(
        self,
        *,
        text: str | None = None,
        tag: str | None = None,
        status: str | None = None,
        deck_name: str | None = None,
    ) -> list[WorkflowRecord]:
        """Archived workflows are listed only when asked for by status."""
        records = self._repo.search(text=text, status=status, deck_name=deck_name)
        if status is None:
            records = [r for r in records if r.status != "archived"]
        if tag:
            records = [r for r in records if tag in r.tags]
        return records

    def versions(self, ref: str) -> list[VersionRecord]:
        return self._repo.versions(self._record(ref).id)

    def version(self, ref: str, number: int) -> VersionView:
        found = self._repo.version(self._record(ref).id, number)
        if found is None:
            raise NotFound(f"workflow {ref!r} has no version {number}")
        return VersionView(found, self._drift_of(found))

    def document(self, ref: str, version: int | None = None) -> WorkflowDocument:
        """The draft (version None) or a published version, as a document."""
        if version is None:
            return WorkflowDocument.model_validate(self._record(ref).draft)
        return WorkflowDocument.model_validate(self.version(ref, version).record.document)

    def preview(self, raw: Any) -> tuple[list[Problem], str]:
        """Problems and Python export of an unsaved document (the designer's live view)."""
        from labdeck.workflow.render_python import render_python

        document = parse_document(raw)
        problems = validate_workflow(document, self._deck.schema, self._lookup)
        return problems, render_python(document, self._deck.schema)

    def parameter_schemas(self, document: WorkflowDocument) -> dict[str, dict[str, Any]]:
        """The JSON Schema of each run parameter, from the argument it feeds."""
        return parameter_schemas(document, self._deck.schema, self._lookup)

    def problems(self, draft: Mapping[str, Any]) -> list[Problem]:
        return validate_workflow(
            WorkflowDocument.model_validate(draft), self._deck.schema, self._lookup
        )

    # --- changing --------------------------------------------------------------------------

    def create(self, raw: Any, *, user: str | None) -> WorkflowView:
        document = parse_document(raw)
        try:
            record = self._repo.create(draft=document.dump(), deck_name=self._deck.name, user=user)
        except DuplicateWorkflow as exc:
            raise _name_taken(document.name) from exc
        return WorkflowView(record, self.problems(record.draft), [])

    def update_draft(self, ref: str, raw: Any, *, user: str | None) -> WorkflowView:
        """Replace the draft; it is saved even when it has problems (they are returned)."""
        record = self._record(ref)
        self._check_editable(record)
        document = parse_document(raw)
        try:
            record = self._repo.update_draft(record.id, document.dump(), user)
        except DuplicateWorkflow as exc:
            raise _name_taken(document.name) from exc
        return WorkflowView(record, self.problems(record.draft), self._active_drift(record))

    def publish(self, ref: str, *, user: str | None) -> VersionRecord:
        record = self._record(ref)
        self._check_editable(record)
        problems = self.problems(record.draft)
        if problems:
            raise InvalidInput(
                f"the draft of {record.name!r} has {len(problems)} problem(s); fix them first",
                code="WORKFLOW_INVALID",
                fields=[
                    {"field": p.field, "message": p.message, "type": "problem", "step": p.step}
                    for p in problems
                ],
            )
        document = self._freeze_subworkflow_versions(WorkflowDocument.model_validate(record.draft))
        latest = self._repo.version(record.id, record.active_version or 0)
        if latest is not None and latest.document == document.dump():
            raise Conflict(
                f"the draft is the same as version {latest.number}: nothing to publish",
                code="NO_CHANGES",
            )
        return self._repo.publish(
            record.id,
            document=document.dump(),
            user=user,
            deck_name=self._deck.name,
            deck_fingerprint=self._deck.fingerprint,
        )

    def duplicate(self, ref: str, name: str, *, user: str | None) -> WorkflowView:
        """Save as: a new workflow whose draft is a copy of this one's draft."""
        source = self._record(ref)
        return self.create(dict(source.draft, name=name), user=user)

    def safety_pause(self, ref: str) -> WorkflowRecord:
        """New runs, replays and triggers of it are refused until someone clears it."""
        return self._repo.set_status(self._record(ref).id, "paused_safety")

    def clear_safety(self, ref: str) -> WorkflowRecord:
        record = self._record(ref)
        if record.status != "paused_safety":
            raise Conflict(f"{record.name!r} is not safety-paused", code="INVALID_TRANSITION")
        return self._repo.set_status(record.id, "active")

    def archive(self, ref: str) -> WorkflowRecord:
        return self._repo.set_status(self._record(ref).id, "archived")

    def restore(self, ref: str) -> WorkflowRecord:
        record = self._record(ref)
        if record.status != "archived":
            raise Conflict(f"{record.name!r} is not archived")
        return self._repo.set_status(record.id, "active")

    def import_payload(self, payload: Any, *, user: str | None) -> ImportOutcome:
        """Create a workflow from our format, an IvoryOS workflow JSON or Python source."""
        document, report = self.convert(payload)
        return ImportOutcome(self.create(document.dump(), user=user), report)

    def convert(self, payload: Any) -> tuple[WorkflowDocument, list[ImportNote]]:
        """Turn an import payload into a document and its report (422 if nothing converts)."""
        from labdeck.workflow.import_ivoryos import import_ivoryos, looks_like_ivoryos
        from labdeck.workflow.import_python import import_python

        if not isinstance(payload, Mapping):
            raise InvalidInput("an import must be a JSON object")
        try:
            if "python" in payload:
                result = import_python(
                    str(payload["python"]),
                    self._deck.schema,
                    function=payload.get("function"),
                    name=payload.get("name"),
                )
            elif payload.get("format") == FORMAT:
                return parse_document(payload), []
            elif looks_like_ivoryos(payload):
                result = import_ivoryos(payload, self._deck.schema)
            else:
                raise InvalidInput(
                    f"not a {FORMAT!r} document, an IvoryOS workflow or "
                    '{"python": "<source>"}: nothing to import',
                    code="IMPORT_FAILED",
                )
        except ImportFailed as exc:
            raise InvalidInput(
                str(exc),
                code="IMPORT_FAILED",
                fields=[_note_field(note) for note in exc.report],
            ) from exc
        if result.document is None:
            raise InvalidInput(
                "nothing could be converted",
                code="IMPORT_FAILED",
                fields=[_note_field(note) for note in result.report],
            )
        return result.document, result.report

    # --- helpers ---------------------------------------------------------------------------

    def _record(self, ref: str) -> WorkflowRecord:
        record = self._repo.get(int(ref)) if ref.isdigit() else None
        if record is None:
            record = self._repo.get_by_name(ref)
        if record is None:
            raise NotFound(f"no workflow {ref!r}")
        return record

    def _check_editable(self, record: WorkflowRecord) -> None:
        if record.status == "archived":
            raise Conflict(
                f"{record.name!r} is archived; restore it before editing", code="ARCHIVED"
            )

    def _lookup(self, name: str, version: int | None) -> WorkflowDocument | None:
        """Sub-workflow documents for validation: a version, else active, else the draft."""
        record = self._repo.get_by_name(name)
        if record is None:
            return None
        number = version if version is not None else record.active_version
        if number is not None:
            found = self._repo.version(record.id, number)
            return WorkflowDocument.model_validate(found.document) if found else None
        return WorkflowDocument.model_validate(record.draft)

    def _freeze_subworkflow_versions(self, document: WorkflowDocument) -> WorkflowDocument:
        """Pin each sub-workflow step without a version to the version active now."""
        frozen = document.model_copy(deep=True)
        for found in iter_steps(frozen):
            step = found.step
            if isinstance(step, WorkflowCallStep) and step.version is None:
                target = self._repo.get_by_name(step.workflow)
                if target is None or target.active_version is None:
                    raise Conflict(
                        f"step {step.id!r} runs {step.workflow!r}, which has no published "
                        "version: publish it first",
                        code="NOT_PUBLISHED",
                    )
                step.version = target.active_version
        return frozen

    def _active_drift(self, record: WorkflowRecord) -> list[Problem]:
        if record.active_version is None:
            return []
        active = self._repo.version(record.id, record.active_version)
        return self._drift_of(active) if active else []

    def _drift_of(self, version: VersionRecord) -> list[Problem]:
        if version.deck_fingerprint == self._deck.fingerprint:
            return []
        return drift(WorkflowDocument.model_validate(version.document), self._deck.schema)


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"a workflow named {name!r} already exists; choose another name", code="NAME_TAKEN"
    )


def _note_field(note: ImportNote) -> dict[str, Any]:
    where = f"line {note.line}" if note.line is not None else (note.where or "(document)")
    return {"field": where, "message": note.message, "type": note.severity}
