"""The workflow document `labdeck.workflow/1`: pydantic models, exactly as WORKFLOW_FORMAT.md.

Owns the structure of a workflow (phases, step kinds, values, parameters, outputs) and the
rules that need no deck: unique step ids, unique parameter and output names, unknown keys
rejected, a missing or wrong `format` named in the error. Checks against a deck (targets,
argument types, variables defined before use) live in `workflow.validate`.

`iter_steps` walks every step with its phase and path; the designer, validation, export and
the runner all use it so they agree on what a step path is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

FORMAT = "labdeck.workflow/1"
PHASES: tuple[Phase, ...] = ("prep", "script", "cleanup")
MAX_WHILE_ITERATIONS = 10_000

Phase = Literal["prep", "script", "cleanup"]
StepId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$", min_length=1, max_length=64)]
# Parameters, variables and outputs are Python identifiers: they become names in expressions
# and in the exported Python script.
Name = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", min_length=1, max_length=64)
]
WorkflowName = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$",
        min_length=1,
        max_length=128,
        strip_whitespace=True,
    ),
]
Expression = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


# --- values ----------------------------------------------------------------------------------


class ParamRef(_Strict):
    """A run parameter: one row of the table, one optimizer suggestion."""

    param: Name


class VarRef(_Strict):
    """A variable saved earlier in the same run."""

    var: Name


class ExprRef(_Strict):
    """An expression over parameters and variables."""

    expr: Expression


Reference = ParamRef | VarRef | ExprRef
# A dict with exactly one of the keys param/var/expr is a reference; any other JSON is a
# literal (left-to-right: the reference forms are tried first and forbid extra keys).
Value = Annotated[ParamRef | VarRef | ExprRef | JsonValue, Field(union_mode="left_to_right")]


def is_reference(value: Any) -> bool:
    return isinstance(value, ParamRef | VarRef | ExprRef)


# --- steps -----------------------------------------------------------------------------------


class _Step(_Strict):
    id: StepId
    disabled: bool = Field(default=False, description="Kept in the document, skipped at run time.")
    note: str | None = None


SaveNames = Name | list[Name | None]


class CallStep(_Step):
    """Call a deck method or function, or set a property with `args: {"set": value}`."""

    kind: Literal["call"]
    target: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    ]
    args: dict[str, Value] = Field(default_factory=dict)
    save: SaveNames | None = Field(
        default=None, description="A name, or a list of names (null to skip) for a tuple return."
    )
    timeout_s: Annotated[float, Field(gt=0)] | None = None
    per: Literal["sample", "batch"] = "sample"


class WorkflowCallStep(_Step):
    """Run another workflow's `script` phase as a sub-step."""

    kind: Literal["workflow"]
    workflow: WorkflowName
    version: Annotated[int, Field(ge=1)] | None = None
    args: dict[str, Value] = Field(default_factory=dict)
    save: SaveNames | None = None


class IfStep(_Step):
    kind: Literal["if"]
    condition: Expression
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")


class WhileStep(_Step):
    kind: Literal["while"]
    condition: Expression
    do: list[Step] = Field(default_factory=list)
    max_iterations: Annotated[int, Field(ge=1, le=MAX_WHILE_ITERATIONS)]


class RepeatStep(_Step):
    kind: Literal["repeat"]
    times: Value
    do: list[Step] = Field(default_factory=list)
    index: Name | None = Field(default=None, description="Variable holding the 1-based count.")


class WaitStep(_Step):
    kind: Literal["wait"]
    seconds: Value


class SetStep(_Step):
    kind: Literal["set"]
    name: Name
    value: Value


class CommentStep(_Step):
    kind: Literal["comment"]
    text: str = ""


class InputStep(_Step):
    kind: Literal["input"]
    prompt: str
    save: Name
    type: Literal["number", "integer", "text", "boolean", "choice"] = "text"
    choices: list[str | int | float] | None = None
    timeout_s: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _choices_fit_the_type(self) -> InputStep:
        if self.type == "choice" and not self.choices:
            raise ValueError("an input of type 'choice' needs a non-empty 'choices' list")
        if self.type != "choice" and self.choices:
            raise ValueError("'choices' is only for inputs of type 'choice'")
        return self


class PauseStep(_Step):
    kind: Literal["pause"]
    message: str = ""


Step = Annotated[
    CallStep
    | WorkflowCallStep
    | IfStep
    | WhileStep
    | RepeatStep
    | WaitStep
    | SetStep
    | CommentStep
    | InputStep
    | PauseStep,
    Field(discriminator="kind"),
]
BLOCK_KINDS = ("if", "while", "repeat")


def child_lists(step: Any) -> list[tuple[str, list[Any]]]:
    """The nested step lists of a block step, by field name (`then`, `else`, `do`)."""
    if isinstance(step, IfStep):
        return [("then", step.then), ("else", step.else_)]
    if isinstance(step, WhileStep | RepeatStep):
        return [("do", step.do)]
    return []


# --- the document ------------------------------------------------------------------------------


class Parameter(_Strict):
    name: Name
    default: JsonValue = None


class WorkflowDocument(_Strict):
    format: Literal["labdeck.workflow/1"]
    name: WorkflowName
    description: str = ""
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list
    )
    parameters: list[Parameter] = Field(default_factory=list)
    outputs: list[Name] = Field(default_factory=list)
    prep: list[Step] = Field(default_factory=list)
    script: list[Step] = Field(default_factory=list)
    cleanup: list[Step] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _format_is_named(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format") != FORMAT:
            found = data.get("format")
            where = "is missing" if found is None else f"is {found!r}"
            raise ValueError(f"'format' {where}: this is a {FORMAT!r} document")
        return data

    @model_validator(mode="after")
    def _names_are_unique(self) -> WorkflowDocument:
        seen: set[str] = set()
        for found in iter_steps(self):
            if found.step.id in seen:
                raise ValueError(f"step id {found.step.id!r} is used more than once")
            seen.add(found.step.id)
        _unique([p.name for p in self.parameters], "parameter")
        _unique(self.outputs, "output")
        return self

    def phase(self, phase: Phase) -> list[Any]:
        steps: list[Any] = getattr(self, phase)
        return steps

    def dump(self) -> dict[str, Any]:
        """The JSON form as stored and exported (defaults left out, aliases used)."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True) | {
            "format": FORMAT,
            "name": self.name,
        }


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} is listed more than once")
        seen.add(name)


@dataclass(frozen=True)
class FoundStep:
    """A step with where it is: its phase, the path of block ids above it, its depth."""

    phase: Phase
    path: tuple[str, ...]
    step: Any

    @property
    def depth(self) -> int:
        return len(self.path)


def iter_steps(
    document: WorkflowDocument, phases: tuple[Phase, ...] = PHASES
) -> Iterator[FoundStep]:
    """Every step of the document in order, depth first (a block before its children)."""
    for phase in phases:
        yield from _walk(phase, (), document.phase(phase))


def _walk(phase: Phase, path: tuple[str, ...], steps: list[Any]) -> Iterator[FoundStep]:
    for step in steps:
        yield FoundStep(phase, path, step)
        for branch, children in child_lists(step):
            yield from _walk(phase, (*path, f"{step.id}/{branch}"), children)


def workflow_json_schema() -> dict[str, Any]:
    """JSON Schema of the document, served at `GET /api/schemas/workflow`."""
    schema = WorkflowDocument.model_json_schema(by_alias=True)
    schema["$id"] = "https://labdeck.invalid/schemas/labdeck.workflow-1.json"
    schema["title"] = FORMAT
    return schema


for _model in (IfStep, WhileStep, RepeatStep, WorkflowDocument):
    _model.model_rebuild()
