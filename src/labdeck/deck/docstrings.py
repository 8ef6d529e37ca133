"""Docstrings of deck members: summary, long description and per-parameter text.

Integrators write Google, NumPy, reST/Sphinx or Epydoc docstrings, or none; `parse_doc` reads
all of them with `docstring_parser` (style auto-detected) and never raises, because a badly
formatted docstring must not hide an instrument.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import docstring_parser

# Section keywords that describe call parameters (attributes and raises are left out).
_PARAM_SECTIONS = frozenset(
    {"param", "parameter", "arg", "argument", "key", "keyword", "other_param", "kwarg"}
)


@dataclass(frozen=True)
class DocInfo:
    summary: str = ""
    description: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The summary, then a blank line and the long description if any (`MethodSchema.doc`)."""
        if self.summary and self.description:
            return f"{self.summary}\n\n{self.description}"
        return self.summary or self.description


def parse_doc(obj: Any) -> DocInfo:
    """Parse the docstring of `obj` (inherited docstrings included, as `inspect.getdoc` does)."""
    try:
        raw = inspect.getdoc(obj)
    except Exception:
        return DocInfo()
    if not raw:
        return DocInfo()
    try:
        return _parse(raw)
    except Exception:
        return DocInfo(summary=raw.strip().splitlines()[0].strip())


def _parse(raw: str) -> DocInfo:
    parsed = docstring_parser.parse(raw, style=docstring_parser.Style.AUTO)
    summary = (parsed.short_description or "").strip()
    description = (parsed.long_description or "").strip()
    if summary and description and not parsed.blank_after_short_description:
        # A summary wrapped over several lines: the parser only keeps its first line.
        first, _, rest = description.partition("\n\n")
        summary = " ".join([summary, *(line.strip() for line in first.splitlines())])
        description = rest.strip()
    params = {
        param.arg_name: (param.description or "").strip()
        for param in parsed.params
        if param.args and param.args[0] in _PARAM_SECTIONS
    }
    return DocInfo(summary=summary, description=description, params=params)
