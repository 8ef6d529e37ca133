"""Workflow templates loaded at start: `labdeck serve DECK.py --templates DIR`.

Owns turning every workflow file of a folder into the library: `*.json` in our format or
IvoryOS's, `*.py` with one workflow per public top-level function (its `_prep`/`_cleanup`
companions become those phases). A template never touches a published version: a new one
creates a workflow, a changed one replaces the draft, an unchanged one is left alone. Each
file's outcome is returned and logged, so integrators see what happened to their templates.
"""

from __future__ import annotations

import ast
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from labdeck.errors import LabdeckError
from labdeck.workflow.library import WorkflowLibrary
from labdeck.workflow.model import WorkflowDocument

log = logging.getLogger(__name__)
TEMPLATE_USER = "templates"
Outcome = Literal["created", "draft updated", "unchanged", "failed"]


@dataclass(frozen=True)
class TemplateOutcome:
    file: str
    workflow: str | None
    outcome: Outcome
    detail: str = ""


def load_templates(library: WorkflowLibrary, folder: Path) -> list[TemplateOutcome]:
    """Bring every template in `folder` into the library; one outcome per workflow found."""
    if not folder.is_dir():
        outcome = TemplateOutcome(str(folder), None, "failed", "not a folder")
        log.warning("templates: %s is not a folder", folder)
        return [outcome]
    outcomes: list[TemplateOutcome] = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".json":
            outcomes.append(_sync_payload(library, path, _read_json(path)))
        elif path.suffix == ".py":
            outcomes.extend(_sync_python_file(library, path))
    for outcome in outcomes:
        level = logging.WARNING if outcome.outcome == "failed" else logging.INFO
        log.log(
            level,
            "template %s: %s%s%s",
            outcome.file,
            f"{outcome.workflow!r} " if outcome.workflow else "",
            outcome.outcome,
            f" ({outcome.detail})" if outcome.detail else "",
        )
    return outcomes


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"__unreadable__": str(exc)}


def _sync_python_file(library: WorkflowLibrary, path: Path) -> list[TemplateOutcome]:
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError) as exc:
        return [TemplateOutcome(path.name, None, "failed", f"cannot be parsed: {exc}")]
    from labdeck.workflow.import_python import HELPERS

    # The stand-ins an exported script defines for input and pause steps are not workflows.
    functions = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
        and not node.name.endswith(("_prep", "_cleanup"))
        and node.name not in HELPERS
    ]
    if not functions:
        return [TemplateOutcome(path.name, None, "failed", "no public function to import")]
    return [
        _sync_payload(library, path, {"python": source, "function": name}) for name in functions
    ]


def _sync_payload(library: WorkflowLibrary, path: Path, payload: Any) -> TemplateOutcome:
    if isinstance(payload, dict) and "__unreadable__" in payload:
        return TemplateOutcome(path.name, None, "failed", f"not JSON: {payload['__unreadable__']}")
    try:
        document, report = library.convert(payload)
    except LabdeckError as exc:
        return TemplateOutcome(path.name, None, "failed", _describe(exc))
    notes = f"{len(report)} import note(s)" if report else ""
    return _upsert(library, path.name, document, notes)


def _upsert(
    library: WorkflowLibrary, file: str, document: WorkflowDocument, notes: str
) -> TemplateOutcome:
    try:
        existing = library.get(document.name).record
    except LabdeckError:
        existing = None
    try:
        if existing is None:
            library.create(document.dump(), user=TEMPLATE_USER)
            return TemplateOutcome(file, document.name, "created", notes)
        if existing.draft == document.dump():
            return TemplateOutcome(file, document.name, "unchanged", notes)
        library.update_draft(document.name, document.dump(), user=TEMPLATE_USER)
    except LabdeckError as exc:
        return TemplateOutcome(file, document.name, "failed", _describe(exc))
    return TemplateOutcome(file, document.name, "draft updated", notes)


def _describe(exc: LabdeckError) -> str:
    fields = exc.detail.get("fields") or []
    if fields:
        first = fields[0]
        return f"{exc.message}: {first.get('field')}: {first.get('message')}"
    return exc.message
