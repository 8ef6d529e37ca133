"""The shape of a validation problem, shared by the `validate_*` modules.

A problem is `{step, field, message, severity}`: the step id (None for the document itself),
the field within the step (`target`, `args.volume_ml`, `condition`, `save`, ...) or the
document (`parameters.amount_mg`, `outputs`), and a message an operator can act on.
`severity` is "error" (publishing is refused) or "warning" (shown, does not block: a listed
parameter that nothing uses, a variable named like an expression function, a name listed
twice in one `save`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["error", "warning"]


class Problem(BaseModel):
    step: str | None = Field(description="Step id; None for a document-level problem.")
    field: str = Field(description="Where in the step or document: `args.volume_ml`, `save`.")
    message: str
    severity: Severity = "error"


class Problems:
    """Problems in the order they are found."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, step: str | None, field: str, message: str, severity: Severity = "error") -> None:
        self.items.append(Problem(step=step, field=field, message=message, severity=severity))
