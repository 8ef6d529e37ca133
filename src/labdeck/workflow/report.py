"""What an import tells its user: the converted document and everything it could not convert.

Shared by the Python, IvoryOS and template importers. An import never drops anything
silently: each thing left out is an `ImportNote` with where it was (a line number, or an
action's position) and why.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from labdeck.workflow.model import WorkflowDocument


class ImportNote(BaseModel):
    severity: Literal["warning", "error"] = Field(
        description="`error`: something was not converted; `warning`: converted with a change."
    )
    message: str
    line: int | None = Field(default=None, description="Line in the Python source, 1-based.")
    where: str | None = Field(
        default=None, description="Position in the source document, e.g. `script[3]`."
    )


class ImportResult(BaseModel):
    document: WorkflowDocument | None = Field(
        default=None, description="None when nothing sensible could be converted."
    )
    report: list[ImportNote] = Field(default_factory=list)

    @property
    def errors(self) -> list[ImportNote]:
        return [note for note in self.report if note.severity == "error"]


class ImportFailed(Exception):
    """Nothing sensible could be converted; `report` says why."""

    def __init__(self, message: str, report: list[ImportNote]) -> None:
        super().__init__(message)
        self.report = report
