"""Small builders shared by the validation tests: documents, steps, problems as tuples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.model import FORMAT, WorkflowDocument
from labdeck.workflow.validate import Problem, validate_workflow

Lookup = Callable[[str, int | None], WorkflowDocument | None]


def document(
    *script: dict[str, Any],
    prep: list[dict[str, Any]] | None = None,
    cleanup: list[dict[str, Any]] | None = None,
    parameters: list[str | dict[str, Any]] | None = None,
    outputs: list[str] | None = None,
    name: str = "under test",
) -> WorkflowDocument:
    params = [{"name": p} if isinstance(p, str) else p for p in parameters or []]
    return WorkflowDocument.model_validate(
        {
            "format": FORMAT,
            "name": name,
            "parameters": params,
            "outputs": outputs or [],
            "prep": prep or [],
            "script": list(script),
            "cleanup": cleanup or [],
        }
    )


def call(step_id: str, target: str, save: Any = None, **args: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"id": step_id, "kind": "call", "target": target, "args": args}
    if save is not None:
        step["save"] = save
    return step


def set_(step_id: str, name: str, value: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "set", "name": name, "value": value}


def comment(step_id: str, text: str) -> dict[str, Any]:
    return {"id": step_id, "kind": "comment", "text": text}


def if_(
    step_id: str,
    condition: str,
    then: list[dict[str, Any]],
    else_: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {"id": step_id, "kind": "if", "condition": condition, "then": then, "else": else_ or []}


def param(name: str) -> dict[str, str]:
    return {"param": name}


def var(name: str) -> dict[str, str]:
    return {"var": name}


def expr(text: str) -> dict[str, str]:
    return {"expr": text}


def found(
    doc: WorkflowDocument, deck: InterfaceSchema, lookup: Lookup | None = None
) -> list[tuple[str | None, str, str]]:
    """Errors (not warnings) as (step, field, message)."""
    return [
        (p.step, p.field, p.message)
        for p in validate_workflow(doc, deck, lookup)
        if p.severity == "error"
    ]


def warnings_of(doc: WorkflowDocument, deck: InterfaceSchema) -> list[Problem]:
    return [p for p in validate_workflow(doc, deck) if p.severity == "warning"]


def one(
    doc: WorkflowDocument, deck: InterfaceSchema, lookup: Lookup | None = None
) -> tuple[str | None, str, str]:
    """The single error of `doc`."""
    errors = found(doc, deck, lookup)
    assert len(errors) == 1, errors
    return errors[0]
