"""Sub-workflow steps: the workflow exists, its parameters are the args, no call cycle.

Owns the checks of `kind: "workflow"` steps, which need the library (through a
`WorkflowLookup`) rather than the deck:

- the named workflow (and version) exists;
- `args` are its parameters: unknown names are errors; a parameter without a default (or
  with a `null` one, the same in JSON) must be given; literals must fit the type the
  parameter has in that workflow;
- `save` receives its `outputs`: one name gets them all, a list needs one name per output
  in order, and there is nothing to save from a workflow without outputs;
- no cycle: a workflow may not run itself at any depth. Cycles are found by workflow name,
  whatever the versions, and reported on the step of the validated document that enters
  the cycle, with its path (`A → B → A`); disabled steps count (they may be enabled again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labdeck.workflow.model import WorkflowCallStep, WorkflowDocument, iter_steps
from labdeck.workflow.validate_calls import ValueSite, is_literal
from labdeck.workflow.validate_problems import Problems
from labdeck.workflow.validate_values import literal_errors

# Nesting deeper than this is not followed when looking for cycles.
MAX_NESTING = 32

WorkflowLookup = Callable[[str, int | None], WorkflowDocument | None]
SchemasOf = Callable[[WorkflowDocument], dict[str, dict[str, Any]]]


class SubWorkflows:
    """Sub-workflow documents looked up once per validation, and the checks that use them."""

    def __init__(self, lookup: WorkflowLookup, schemas_of: SchemasOf) -> None:
        self._lookup = lookup
        self._schemas_of = schemas_of
        self._documents: dict[tuple[str, int | None], WorkflowDocument | None] = {}
        self._acyclic: set[tuple[str, int | None]] = set()

    def document(self, name: str, version: int | None) -> WorkflowDocument | None:
        key = (name, version)
        if key not in self._documents:
            self._documents[key] = self._lookup(name, version)
        return self._documents[key]

    def check_step(self, step: WorkflowCallStep, problems: Problems) -> list[ValueSite]:
        sub = self.document(step.workflow, step.version)
        if sub is None:
            problems.add(step.id, "workflow", self._unknown(step))
            return [
                ValueSite(f"args.{name}", value, None, None) for name, value in step.args.items()
            ]
        parameters = {parameter.name: parameter for parameter in sub.parameters}
        schemas = self._schemas_of(sub)
        sites = []
        for name, value in step.args.items():
            field_name = f"args.{name}"
            if name not in parameters:
                listed = ", ".join(parameters) or "none"
                problems.add(
                    step.id,
                    field_name,
                    f"workflow {step.workflow!r} has no parameter {name!r} (its parameters: "
                    f"{listed})",
                )
                sites.append(ValueSite(field_name, value, None, None))
                continue
            schema = schemas.get(name, {})
            if is_literal(value):
                for error in literal_errors(value, schema):
                    problems.add(step.id, field_name, f"{name}: {error}")
            sites.append(ValueSite(field_name, value, schema, schema))
        for name, parameter in parameters.items():
            if name not in step.args and parameter.default is None:
                problems.add(
                    step.id,
                    f"args.{name}",
                    f"missing argument {name!r}: workflow {step.workflow!r} gives it no default",
                )
        self._check_save(step, sub, problems)
        return sites

    def _unknown(self, step: WorkflowCallStep) -> str:
        if step.version is not None and self.document(step.workflow, None) is not None:
            return f"workflow {step.workflow!r} has no version {step.version}"
        return f"no workflow named {step.workflow!r}"

    def _check_save(
        self, step: WorkflowCallStep, sub: WorkflowDocument, problems: Problems
    ) -> None:
        if step.save is None:
            return
        if not sub.outputs:
            problems.add(
                step.id,
                "save",
                f"workflow {step.workflow!r} has no outputs, so there is nothing to save",
            )
        elif isinstance(step.save, list) and len(step.save) != len(sub.outputs):
            problems.add(
                step.id,
                "save",
                f"workflow {step.workflow!r} has {len(sub.outputs)} outputs "
                f"({', '.join(sub.outputs)}) but save lists {len(step.save)} names",
            )

    # --- cycles -----------------------------------------------------------------------------

    def check_cycles(self, document: WorkflowDocument, problems: Problems) -> None:
        root = document.name
        for found in iter_steps(document):
            step = found.step
            if not isinstance(step, WorkflowCallStep):
                continue
            cycle = self._cycle_from(step.workflow, step.version, (root,))
            if cycle is None:
                continue
            path = " → ".join(cycle)
            if cycle[0] == root:
                message = f"workflow {root!r} would run itself: {path}"
            else:
                message = f"workflow {step.workflow!r} would run itself forever: {path}"
            problems.add(step.id, "workflow", message)

    def _cycle_from(
        self, name: str, version: int | None, path: tuple[str, ...]
    ) -> tuple[str, ...] | None:
        """A cycle reachable by running `name` after `path`, as names from where it starts."""
        if name in path:
            return (*path[path.index(name) :], name)
        key = (name, version)
        # No cycle is reachable from `key`, so none of its descendants is on any path.
        if key in self._acyclic or len(path) >= MAX_NESTING:
            return None
        sub = self.document(name, version)
        if sub is not None:
            for found in iter_steps(sub, ("script",)):
                step = found.step
                if isinstance(step, WorkflowCallStep):
                    cycle = self._cycle_from(step.workflow, step.version, (*path, name))
                    if cycle is not None:
                        return cycle
        self._acyclic.add(key)
        return None
