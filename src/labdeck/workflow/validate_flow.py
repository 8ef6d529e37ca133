"""Names in a workflow: variables defined before use, parameters where they may appear.

Owns the definite-assignment analysis. A name read by a step (`{"var": x}`, a name in an
expression or condition, a `{x}` placeholder in a comment) must be a variable that every
path to the step has saved, or, in `script` only, a listed parameter. The rule, per phase:

- `prep` starts with no names; `script` and `cleanup` start with the variables defined at the
  end of `prep`, and `script` also sees the parameters (each iteration starts afresh: script
  variables never reach cleanup or the next iteration);
- a call's or sub-workflow's `save`, a `set`'s `name` and an `input`'s `save` define names
  after their step; a `repeat`'s `index` is defined inside its body only;
- after an `if`, the names both branches define (an empty `else` defines nothing);
- after a `while`, nothing from its body (it may run zero times), and its condition sees
  only what was defined before the loop;
- after a `repeat`, its body's names only when `times` is a literal of 1 or more;
- disabled steps (and everything inside a disabled block) define nothing, and their reads
  are not checked against variables (they do not run); their parameter references still
  count, and must still be listed.

Also owns the checks of names being defined: a variable may not share a parameter's name
(an expression could not tell them apart), nor be a Python keyword; naming one like an
expression function, or twice in one `save` list, is a warning.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labdeck.workflow.expressions import FUNCTIONS, ExpressionError, parse_expression, placeholders
from labdeck.workflow.model import (
    PHASES,
    CallStep,
    CommentStep,
    ExprRef,
    IfStep,
    InputStep,
    ParamRef,
    Phase,
    RepeatStep,
    SetStep,
    VarRef,
    WhileStep,
    WorkflowCallStep,
    WorkflowDocument,
    iter_steps,
)
from labdeck.workflow.validate_calls import ValueSite
from labdeck.workflow.validate_problems import Problems


@dataclass
class FlowResult:
    """What the walk learnt beyond its problems."""

    used_params: set[str] = field(default_factory=set)
    # Variables every iteration can report: saved by an enabled step of script (on some
    # path), or of prep (visible to every iteration).
    reportable: set[str] = field(default_factory=set)


def saved_names(step: Any) -> list[str]:
    """The variables a step defines after it runs (a repeat's index is not one of them)."""
    if isinstance(step, CallStep | WorkflowCallStep):
        if step.save is None:
            return []
        return [step.save] if isinstance(step.save, str) else [n for n in step.save if n]
    if isinstance(step, SetStep):
        return [step.name]
    if isinstance(step, InputStep):
        return [step.save]
    return []


def check_flow(
    document: WorkflowDocument, sites: Mapping[str, list[ValueSite]], problems: Problems
) -> FlowResult:
    walker = _Walker(document, sites, problems)
    prep_end = walker.walk(document.prep, set(), "prep", disabled=False)
    walker.walk(document.script, set(prep_end), "script", disabled=False)
    walker.walk(document.cleanup, set(prep_end), "cleanup", disabled=False)
    return walker.result


class _Walker:
    def __init__(
        self, document: WorkflowDocument, sites: Mapping[str, list[ValueSite]], problems: Problems
    ) -> None:
        self.params = frozenset(p.name for p in document.parameters)
        self.sites = sites
        self.problems = problems
        self.result = FlowResult()
        self.saved_in: dict[str, set[Phase]] = {}
        for found in iter_steps(document, PHASES):
            for name in [*saved_names(found.step), *_index_name(found.step)]:
                self.saved_in.setdefault(name, set()).add(found.phase)

    def walk(
        self, steps: list[Any], defined: set[str], phase: Phase, *, disabled: bool
    ) -> set[str]:
        """Check `steps` given the names `defined` before them; return those defined after."""
        for step in steps:
            off = disabled or step.disabled
            self._check_reads(step, defined, phase, off)
            self._check_definitions(step)
            if isinstance(step, IfStep):
                then_end = self.walk(step.then, set(defined), phase, disabled=off)
                else_end = self.walk(step.else_, set(defined), phase, disabled=off)
                if not off:
                    defined = then_end & else_end
            elif isinstance(step, WhileStep):
                self.walk(step.do, set(defined), phase, disabled=off)
            elif isinstance(step, RepeatStep):
                body = set(defined) | ({step.index} if step.index else set())
                body_end = self.walk(step.do, body, phase, disabled=off)
                if not off and _runs_at_least_once(step):
                    defined = defined | (body_end - {step.index} if step.index else body_end)
            elif not off:
                names = saved_names(step)
                defined.update(names)
                if phase != "cleanup":
                    self.result.reportable.update(names)
        return defined

    # --- reads ------------------------------------------------------------------------------

    def _check_reads(self, step: Any, defined: set[str], phase: Phase, off: bool) -> None:
        for site in self.sites.get(step.id, ()):
            value = site.value
            if isinstance(value, VarRef):
                self._read_variable(step.id, site.field, value.var, defined, phase, off)
            elif isinstance(value, ParamRef):
                self._read_parameter(step.id, site.field, value.param, phase)
            elif isinstance(value, ExprRef):
                self._read_expression(step.id, site.field, value.expr, defined, phase, off)
        if isinstance(step, IfStep | WhileStep):
            self._read_expression(step.id, "condition", step.condition, defined, phase, off)
        elif isinstance(step, CommentStep):
            self._read_names(step.id, "text", placeholders(step.text), defined, phase, off)

    def _read_variable(
        self, step_id: str, field_name: str, name: str, defined: set[str], phase: Phase, off: bool
    ) -> None:
        if off or name in defined:
            return
        if name in self.params and name not in self.saved_in:
            message = f'{name!r} is a parameter, not a variable: use {{"param": "{name}"}}'
        else:
            message = self._undefined(name, "variable", phase)
        self.problems.add(step_id, field_name, message)

    def _read_parameter(self, step_id: str, field_name: str, name: str, phase: Phase) -> None:
        self.result.used_params.add(name)
        if phase != "script":
            self.problems.add(step_id, field_name, _outside_script(name, phase))
        elif name not in self.params:
            self.problems.add(
                step_id, field_name, f"parameter {name!r} is not listed in the parameters"
            )

    def _read_expression(
        self, step_id: str, field_name: str, text: str, defined: set[str], phase: Phase, off: bool
    ) -> None:
        try:
            parsed = parse_expression(text)
        except ExpressionError as exc:
            self.problems.add(step_id, field_name, f"invalid expression: {exc.message}")
            return
        self._read_names(step_id, field_name, sorted(parsed.names), defined, phase, off)

    def _read_names(
        self,
        step_id: str,
        field_name: str,
        names: Iterable[str],
        defined: set[str],
        phase: Phase,
        off: bool,
    ) -> None:
        """Names of an expression or comment: a defined variable, else a parameter (script)."""
        for name in names:
            if name in defined:
                continue
            if name in self.params:
                self.result.used_params.add(name)
                if phase != "script":
                    self.problems.add(step_id, field_name, _outside_script(name, phase))
                continue
            if not off:
                self.problems.add(step_id, field_name, self._undefined(name, "name", phase))

    def _undefined(self, name: str, what: str, phase: Phase) -> str:
        phases = self.saved_in.get(name)
        if not phases:
            known = "a parameter or " if what == "name" else ""
            return f"unknown {what} {name!r}: not {known}a variable saved by an earlier step"
        if phase == "cleanup" and "prep" not in phases:
            return (
                f"variable {name!r} is saved in script, and cleanup sees only the variables "
                "saved in prep"
            )
        if phase == "prep" and "prep" not in phases:
            return f"variable {name!r} is saved in {min(phases)}, which runs after prep"
        return (
            f"variable {name!r} may not be defined here: it is saved later, or only on some "
            "paths (in one branch of an if, or in a loop body)"
        )

    # --- definitions ------------------------------------------------------------------------

    def _check_definitions(self, step: Any) -> None:
        if isinstance(step, CallStep | WorkflowCallStep) and isinstance(step.save, list):
            seen: set[str] = set()
            for name in step.save:
                if name is not None and name in seen:
                    self.problems.add(
                        step.id,
                        "save",
                        f"save lists {name!r} twice: only the last value is kept",
                        severity="warning",
                    )
                seen.add(name or "")
        if isinstance(step, SetStep):
            self._check_new_name(step.id, "name", step.name)
        elif isinstance(step, RepeatStep) and step.index:
            self._check_new_name(step.id, "index", step.index)
        else:
            for name in saved_names(step):
                self._check_new_name(step.id, "save", name)

    def _check_new_name(self, step_id: str, field_name: str, name: str) -> None:
        if name in self.params:
            self.problems.add(
                step_id,
                field_name,
                f"{name!r} is a parameter: a variable with the same name would hide it",
            )
        else:
            naming_problem(self.problems, step_id, field_name, name)


def naming_problem(problems: Problems, step_id: str | None, field_name: str, name: str) -> None:
    """A parameter or variable name that expressions or the exported script cannot use."""
    if keyword.iskeyword(name):
        problems.add(step_id, field_name, f"{name!r} is a Python keyword: choose another name")
    elif name in FUNCTIONS:
        problems.add(
            step_id,
            field_name,
            f"{name!r} is an expression function: expressions cannot read a value named so",
            severity="warning",
        )


def _outside_script(name: str, phase: Phase) -> str:
    return f"parameter {name!r} cannot be used in {phase}: parameters exist only in script"


def _index_name(step: Any) -> list[str]:
    return [step.index] if isinstance(step, RepeatStep) and step.index else []


def _runs_at_least_once(step: RepeatStep) -> bool:
    times = step.times
    return isinstance(times, int) and not isinstance(times, bool) and times >= 1
