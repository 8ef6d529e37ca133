"""Validation of a workflow document against a deck: the problems the designer shows.

The public face of validation. `validate_workflow` runs every check and returns the problems
in document order (document-level ones first); `drift` reruns only the checks a deck change
can break; `parameter_schemas` gives each run parameter the JSON Schema of what it feeds, to
convert table rows and bound optimizer suggestions.

The checks themselves live next door:
- `validate_calls`: targets, arguments, literal values, saves against the deck;
- `validate_flow`: variables defined before use, parameters only in script, names;
- `validate_subworkflows`: sub-workflow steps and cycles (needs a `WorkflowLookup`);
- `validate_values`: the JSON Schema checker for literals, and parameter types.

What stays here: parameter-level checks (listed but unused, fed arguments of different
types, a default that does not fit), outputs saved by no enabled step of script or prep
(prep variables are visible to every iteration), and the order of everything.
"""

from __future__ import annotations

from typing import Any

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.model import (
    CallStep,
    ParamRef,
    WorkflowCallStep,
    WorkflowDocument,
    iter_steps,
)
from labdeck.workflow.validate_calls import DeckIndex, ValueSite, check_call, count_sites
from labdeck.workflow.validate_flow import check_flow, naming_problem
from labdeck.workflow.validate_problems import Problem, Problems, Severity
from labdeck.workflow.validate_subworkflows import SubWorkflows, WorkflowLookup
from labdeck.workflow.validate_values import describe_type, literal_errors, type_key

__all__ = [
    "Problem",
    "Severity",
    "WorkflowLookup",
    "drift",
    "parameter_schemas",
    "validate_workflow",
]

Sites = dict[str, list[ValueSite]]


def validate_workflow(
    document: WorkflowDocument, deck: InterfaceSchema, lookup: WorkflowLookup | None = None
) -> list[Problem]:
    """Every problem of `document` on `deck`; sub-workflow steps are checked only with `lookup`."""
    validation = _Validation(deck, lookup)
    problems = Problems()
    sites = validation.sites(document, problems)
    if validation.subworkflows is not None:
        validation.subworkflows.check_cycles(document, problems)
    _check_parameter_types(document, sites, problems)
    flow = check_flow(document, sites, problems)
    _check_defaults(document, _first_schemas(document, sites), problems)
    for parameter in document.parameters:
        field = f"parameters.{parameter.name}"
        naming_problem(problems, None, field, parameter.name)
        if parameter.name not in flow.used_params:
            problems.add(
                None, field, f"parameter {parameter.name!r} is not used", severity="warning"
            )
    for output in document.outputs:
        if output not in flow.reportable:
            problems.add(
                None, "outputs", f"output {output!r} is not saved by any step in script or prep"
            )
    return _in_document_order(document, problems.items)


def drift(document: WorkflowDocument, deck: InterfaceSchema) -> list[Problem]:
    """The problems a deck change causes: targets, arguments, literals, saves, parameter types.

    Variables, expressions and sub-workflows do not depend on the deck and are not rechecked.
    """
    validation = _Validation(deck, None)
    problems = Problems()
    sites = validation.sites(document, problems)
    _check_parameter_types(document, sites, problems)
    _check_defaults(document, _first_schemas(document, sites), problems)
    return _in_document_order(document, problems.items)


def parameter_schemas(
    document: WorkflowDocument, deck: InterfaceSchema, lookup: WorkflowLookup | None = None
) -> dict[str, dict[str, Any]]:
    """The JSON Schema of each listed parameter: the first argument it feeds, else `{}`.

    In a `per: "batch"` step a parameter is one item of the list the argument takes.
    """
    return _Validation(deck, lookup).schemas_of(document)


class _Validation:
    """One validation run: the deck index and the sub-workflows looked up so far."""

    def __init__(self, deck: InterfaceSchema, lookup: WorkflowLookup | None) -> None:
        self.index = DeckIndex(deck)
        self.subworkflows = SubWorkflows(lookup, self.schemas_of) if lookup is not None else None
        self._schemas: dict[int, dict[str, dict[str, Any]]] = {}

    def sites(self, document: WorkflowDocument, problems: Problems) -> Sites:
        """Check each step against the deck (and library); return its values by step id."""
        sites: Sites = {}
        for found in iter_steps(document):
            step = found.step
            if isinstance(step, CallStep):
                sites[step.id] = check_call(step, self.index, problems)
            elif isinstance(step, WorkflowCallStep):
                # A call of the document itself is a cycle, reported as such.
                if self.subworkflows is not None and step.workflow != document.name:
                    sites[step.id] = self.subworkflows.check_step(step, problems)
                else:
                    sites[step.id] = [
                        ValueSite(f"args.{name}", value, None, None)
                        for name, value in step.args.items()
                    ]
            else:
                sites[step.id] = count_sites(step, problems)
        return sites

    def schemas_of(self, document: WorkflowDocument) -> dict[str, dict[str, Any]]:
        key = id(document)
        if key not in self._schemas:
            self._schemas[key] = {}  # a sub-workflow cycle sees empty schemas, not recursion
            sites = self.sites(document, Problems())
            self._schemas[key] = _first_schemas(document, sites)
        return self._schemas[key]


def _first_schemas(document: WorkflowDocument, sites: Sites) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for step_sites in sites.values():
        for site in step_sites:
            value = site.value
            if isinstance(value, ParamRef) and site.param_schema and value.param not in schemas:
                # The argument's own default is not the parameter's: the document has that.
                schemas[value.param] = {
                    key: item for key, item in site.param_schema.items() if key != "default"
                }
    return {p.name: schemas.get(p.name, {}) for p in document.parameters}


def _check_defaults(
    document: WorkflowDocument, schemas: dict[str, dict[str, Any]], problems: Problems
) -> None:
    for parameter in document.parameters:
        if parameter.default is None:
            continue
        for error in literal_errors(parameter.default, schemas.get(parameter.name, {})):
            problems.add(None, f"parameters.{parameter.name}", f"default: {error}")


def _check_parameter_types(document: WorkflowDocument, sites: Sites, problems: Problems) -> None:
    """A parameter has one type: every argument it feeds must take the same one."""
    first: dict[str, tuple[str, str, dict[str, Any], Any]] = {}
    for step_id, step_sites in sites.items():
        for site in step_sites:
            value = site.value
            if not isinstance(value, ParamRef) or site.param_schema is None:
                continue
            key = type_key(site.param_schema)
            if key is None:
                continue
            seen = first.get(value.param)
            if seen is None:
                first[value.param] = (step_id, site.field, site.param_schema, key)
            elif seen[3] != key:
                problems.add(
                    step_id,
                    site.field,
                    f"parameter {value.param!r} feeds {describe_type(site.param_schema)} here "
                    f"but {describe_type(seen[2])} at step {seen[0]!r} ({seen[1]}): a "
                    "parameter has one type",
                )


def _in_document_order(document: WorkflowDocument, problems: list[Problem]) -> list[Problem]:
    position = {found.step.id: index for index, found in enumerate(iter_steps(document))}
    return sorted(problems, key=lambda problem: position.get(problem.step or "", -1))
