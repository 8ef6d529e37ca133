"""Import an IvoryOS workflow JSON as a `labdeck.workflow/1` document.

Owns the entry points and the document as a whole: which JSON shapes are IvoryOS workflows
(`looks_like_ivoryos`, used by the generic import endpoint), the workflow's name,
description, parameters and outputs, and the final check against the model. The rest is in
helpers: `import_ivoryos_nesting` (flat markers → blocks), `import_ivoryos_actions` (one
action → one step), `import_ivoryos_context` (values and the state carried between actions),
`import_ivoryos_expr` (conditions and statements).

Accepted shapes: a `Script` row export (`name`, `deck`, `script_dict`, …), the
`{"script": <row>, "python_script": …}` answer of IvoryOS's `GET /library/<name>`,
`{"script": <script_dict>}`, and a bare `script_dict` (`{"prep": [...], "script": [...],
"cleanup": [...]}`). Keys that older files lack are defaulted. Nothing is dropped silently:
every action that could not be converted, or was converted with a change, has a note.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.import_ivoryos_actions import StepDict, sanitize_workflow_name
from labdeck.workflow.import_ivoryos_context import Conversion
from labdeck.workflow.import_ivoryos_nesting import nest_section
from labdeck.workflow.model import FORMAT, PHASES, WorkflowDocument
from labdeck.workflow.report import ImportFailed, ImportNote, ImportResult

FALLBACK_NAME = "ivoryos-import"


def looks_like_ivoryos(data: Any) -> bool:
    """True for the IvoryOS shapes above; False for a labdeck document or `{"python": …}`."""
    if not isinstance(data, Mapping) or "format" in data or "python" in data:
        return False
    return _unwrap(data) is not None


def import_ivoryos(data: Mapping[str, Any], deck: InterfaceSchema | None = None) -> ImportResult:
    """Convert an IvoryOS workflow; with a deck, also check that the targets exist on it.

    Raises `ImportFailed` when the input is not an IvoryOS workflow or no action converts.
    Otherwise returns the document and every note (errors for what was left out).
    """
    found = _unwrap(data) if isinstance(data, Mapping) else None
    if found is None:
        note = ImportNote(
            severity="error",
            message="not an IvoryOS workflow: expected a script_dict with prep/script/cleanup "
            "lists of actions",
        )
        raise ImportFailed("not an IvoryOS workflow", [note])
    row, sections = found
    conv = Conversion(deck)
    name = _name(conv, row)
    if deck is not None and isinstance(row.get("deck"), str) and row["deck"] != deck.name:
        conv.warn(
            f"the workflow was written for the deck {row['deck']!r}; checked against {deck.name!r}",
            "deck",
        )
    phases: dict[str, list[StepDict]] = {}
    total = 0
    for phase in PHASES:
        actions = sections.get(phase) or []
        if not isinstance(actions, list):
            conv.error(f"section {phase!r} is not a list of actions; not converted", phase)
            actions = []
        total += len(actions)
        phases[phase] = nest_section(conv, phase, actions)
    for key in sections:
        if key not in PHASES:
            conv.warn(f"section {key!r} is not prep, script or cleanup; ignored", str(key))
    converted = sum(_count(steps) for steps in phases.values())
    if converted == 0:
        reason = "the workflow has no actions" if total == 0 else "no action could be converted"
        conv.error(reason)
        raise ImportFailed(f"nothing to import: {reason}", conv.notes)
    outputs = _outputs(conv, row)
    parameters = list(conv.parameters)
    if parameters:
        conv.warn(
            "IvoryOS keeps parameter values in config CSV files, not in the workflow: "
            f"the parameters {', '.join(parameters)} have no defaults"
        )
    description = row.get("description")
    document = {
        "format": FORMAT,
        "name": name,
        "description": description if isinstance(description, str) else "",
        "parameters": [{"name": parameter} for parameter in parameters],
        "outputs": outputs,
        **phases,
    }
    try:
        result = WorkflowDocument.model_validate(document)
    except ValidationError as error:  # a converter bug: say so rather than crash the caller
        conv.error(f"the converted workflow is not valid: {error}")
        raise ImportFailed("the converted workflow is not valid", conv.notes) from error
    return ImportResult(document=result, report=conv.notes)


def _unwrap(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(the row with the metadata, the sections) of any accepted shape, or None."""
    row = data
    inner = data.get("script")
    if "script_dict" not in data and isinstance(inner, Mapping) and "script_dict" in inner:
        row = inner  # IvoryOS's `GET /library/<name>`: {"script": row, "python_script": ...}
    sections = row.get("script_dict")
    if isinstance(sections, str):  # the database column holds JSON text
        try:
            sections = json.loads(sections)
        except ValueError:
            return None
    if isinstance(sections, Mapping):
        return row, sections
    if isinstance(inner, Mapping) and _holds_actions(inner):
        return data, inner
    if _holds_actions(data):
        return data, data
    return None


def _holds_actions(candidate: Mapping[str, Any]) -> bool:
    """A bare script_dict: phase lists whose items are IvoryOS actions (not labdeck steps)."""
    lists = [candidate[phase] for phase in PHASES if phase in candidate]
    if not lists or not all(isinstance(actions, list) for actions in lists):
        return False
    actions = [action for actions in lists for action in actions]
    return bool(actions) and all(
        isinstance(action, Mapping) and "instrument" in action and "kind" not in action
        for action in actions
    )


def _name(conv: Conversion, row: Mapping[str, Any]) -> str:
    raw = row.get("name")
    if not isinstance(raw, str) or not raw.strip():
        conv.warn(f"the workflow has no name; named {FALLBACK_NAME!r}", "name")
        return FALLBACK_NAME
    name = sanitize_workflow_name(raw)
    if not name:
        conv.warn(f"the name {raw!r} has no usable characters; named {FALLBACK_NAME!r}", "name")
        return FALLBACK_NAME
    if name != raw.strip():
        conv.warn(f"the name {raw!r} is not a valid workflow name; renamed to {name!r}", "name")
    return name


def _outputs(conv: Conversion, row: Mapping[str, Any]) -> list[str]:
    """`return_values`, then every name saved in script (IvoryOS reports them all)."""
    names: dict[str, None] = {}
    declared = row.get("return_values")
    for raw in declared if isinstance(declared, list) else []:
        name = conv.identifier(raw, "return_values", "output")
        if name is not None:
            names[name] = None
    names.update(conv.script_saves)
    return list(names)


def _count(steps: list[StepDict]) -> int:
    total = 0
    for step in steps:
        total += 1
        for branch in ("then", "else", "do"):
            total += _count(step.get(branch, []))
    return total


__all__ = ["import_ivoryos", "looks_like_ivoryos"]
