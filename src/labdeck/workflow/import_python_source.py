"""Read the comments of a Python source that carry workflow content, without running anything.

Owns the two comment conventions of the export (`render_python_text`) on the way back in:

- a disabled step is a `# disabled: step 'id' (N lines)` comment followed by N commented-out
  lines; each such block is turned back into code, `if __labdeck_disabled__:` followed by the
  uncommented lines, so the step converter sees ordinary statements and marks them disabled.
  One line replaces one line, so every line number still points into the author's file;
- trailing comments (after code on the same line) are collected by line, for the
  `# key=value` step fields.

Comments are found with `tokenize`, so text inside strings is never mistaken for one.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field

from labdeck.workflow.render_python_text import DISABLED_HEADER, INDENT
from labdeck.workflow.report import ImportNote

DISABLED_FLAG = "__labdeck_disabled__"


@dataclass(frozen=True)
class _Comment:
    line: int
    column: int
    text: str  # without the leading '#', stripped
    standalone: bool  # nothing but indentation before it on its line


@dataclass
class PreparedSource:
    """The source with disabled steps turned back into code, and its trailing comments."""

    text: str
    trailing: dict[int, str] = field(default_factory=dict)
    notes: list[ImportNote] = field(default_factory=list)


def prepare_source(source: str) -> PreparedSource:
    """Uncomment disabled-step blocks (innermost last) and collect trailing comments.

    `source` must already parse. A header whose block does not read back as Python is left
    as a comment, with a warning.
    """
    lines = source.splitlines(keepends=True)
    notes: list[ImportNote] = []
    rejected: set[int] = set()
    while True:
        header = next(
            (
                comment
                for comment in _comments(lines)
                if comment.standalone
                and comment.line not in rejected
                and DISABLED_HEADER.match(comment.text)
            ),
            None,
        )
        if header is None:
            break
        candidate = _uncommented(lines, header)
        if candidate is None or not _parses(candidate):
            rejected.add(header.line)
            notes.append(
                ImportNote(
                    severity="warning",
                    message="a '# disabled:' comment is not followed by the commented-out "
                    "lines it announces: left as a comment",
                    line=header.line,
                )
            )
            continue
        lines = candidate
    trailing = {
        comment.line: comment.text for comment in _comments(lines) if not comment.standalone
    }
    return PreparedSource("".join(lines), trailing, notes)


def _uncommented(lines: list[str], header: _Comment) -> list[str] | None:
    match = DISABLED_HEADER.match(header.text)
    assert match is not None
    count = int(match["count"])
    start = header.line - 1
    prefix = lines[start][: header.column]
    if start + count >= len(lines):
        return None
    result = list(lines)
    result[start] = f"{prefix}if {DISABLED_FLAG}:{_ending(lines[start])}"
    for index in range(start + 1, start + 1 + count):
        line = lines[index]
        if not line.startswith(f"{prefix}#"):
            return None
        code = line[len(prefix) + 1 :].rstrip("\r\n")
        code = code.removeprefix(" ")
        result[index] = f"{prefix}{INDENT}{code}{_ending(line)}"
    return result


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :] or "\n"


def _parses(lines: list[str]) -> bool:
    try:
        ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return False
    return True


def _comments(lines: list[str]) -> list[_Comment]:
    found: list[_Comment] = []
    readline = io.StringIO("".join(lines)).readline
    try:
        for token in tokenize.generate_tokens(readline):
            if token.type == tokenize.COMMENT:
                line, column = token.start
                standalone = not token.line[:column].strip()
                found.append(_Comment(line, column, token.string[1:].strip(), standalone))
    except (tokenize.TokenError, SyntaxError):
        return found  # the source parsed, so this is a tokenizer corner case: keep what was read
    return found
