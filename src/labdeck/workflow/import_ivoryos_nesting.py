"""IvoryOS's flat action lists → labdeck's nested blocks.

IvoryOS stores a block as marker actions in the flat list (`if`, `else`, `endif`;
`while`, `endwhile`; `repeat`, `endrepeat`) sharing one `uuid`. This module owns matching
them up, and what happens when they do not match: IvoryOS refuses to run such a workflow
(`ConditionalStructureError`), labdeck converts it anyway with the most likely structure
and an error note at the marker's position, so nothing is lost and the author can check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labdeck.workflow.import_ivoryos_actions import StepDict, convert_leaf, open_block
from labdeck.workflow.import_ivoryos_context import Conversion
from labdeck.workflow.model import Phase

END = {"if": "endif", "while": "endwhile", "repeat": "endrepeat"}
# (instrument, action) of a marker → (block kind, role)
_MARKERS: dict[tuple[Any, Any], tuple[str, str]] = {
    ("if", "if"): ("if", "open"),
    ("if", "else"): ("if", "else"),
    ("if", "endif"): ("if", "close"),
    ("while", "while"): ("while", "open"),
    ("while", "endwhile"): ("while", "close"),
    ("repeat", "repeat"): ("repeat", "open"),
    ("repeat", "endrepeat"): ("repeat", "close"),
}


@dataclass
class _OpenBlock:
    kind: str
    uuid: Any
    where: str
    step: StepDict
    branch: list[StepDict]  # where the next steps go: `then`, `else` or `do`
    has_else: bool = False


def nest_section(conv: Conversion, phase: Phase, actions: Sequence[Any]) -> list[StepDict]:
    """Convert one section's actions, in order, into a list of (nested) step dicts."""
    conv.phase = phase
    steps: list[StepDict] = []
    stack: list[_OpenBlock] = []
    for index, action in enumerate(actions):
        where = f"{phase}[{index}]"
        target = stack[-1].branch if stack else steps
        if not isinstance(action, Mapping):
            conv.error(f"is {type(action).__name__}, not an action object; not converted", where)
            continue
        marker = _MARKERS.get((action.get("instrument"), action.get("action")))
        if marker is None:
            step = convert_leaf(conv, action, where)
            if step is not None:
                target.append(step)
            continue
        kind, role = marker
        if role == "open":
            header = open_block(conv, kind, action, where)
            target.append(header)
            branch = header["then"] if kind == "if" else header["do"]
            stack.append(_OpenBlock(kind, action.get("uuid"), where, header, branch))
        elif role == "else":
            _else(conv, stack, action.get("uuid"), where)
        else:
            _close(conv, stack, kind, action.get("uuid"), where)
    for unclosed in reversed(stack):
        conv.error(
            f"'{unclosed.kind}' has no '{END[unclosed.kind]}'; closed at the end of {phase}",
            unclosed.where,
        )
    return steps


def _same_block(opened: Any, marker: Any) -> bool:
    # Older files may lack a uuid on a marker: only two different uuids are a mismatch.
    return opened is None or marker is None or str(opened) == str(marker)


def _else(conv: Conversion, stack: list[_OpenBlock], uuid: Any, where: str) -> None:
    ifs = [i for i, block in enumerate(stack) if block.kind == "if" and not block.has_else]
    # An `else` belongs to the innermost open `if` its uuid names (blocks opened inside that
    # one then lack their end markers); with no uuid match, to the innermost open `if`.
    matching = [i for i in ifs if _same_block(stack[i].uuid, uuid)]
    owner = matching[-1] if matching else ifs[-1] if ifs else None
    if owner is None:
        if stack and stack[-1].kind == "if":
            reason = f"a second 'else' for the 'if' at {stack[-1].where}"
        elif stack:
            reason = f"'else' inside the '{stack[-1].kind}' at {stack[-1].where}, not an 'if'"
        else:
            reason = "'else' without an open 'if'"
        conv.error(f"{reason}; dropped, the steps after it stay where they are", where)
        return
    block = stack[owner]
    if not _same_block(block.uuid, uuid):
        conv.error(
            f"'else' has uuid {uuid} but the 'if' at {block.where} has uuid {block.uuid}; "
            "taken as its else",
            where,
        )
    _close_inner(conv, stack, owner, "else", where)
    block.branch = block.step["else"]
    block.has_else = True


def _close(conv: Conversion, stack: list[_OpenBlock], kind: str, uuid: Any, where: str) -> None:
    end = END[kind]
    candidates = [i for i, block in enumerate(stack) if block.kind == kind]
    if not candidates:
        conv.error(f"'{end}' without an open '{kind}'; dropped", where)
        return
    # The uuid says which block a marker belongs to; without a match, the innermost one.
    matching = [i for i in candidates if _same_block(stack[i].uuid, uuid)]
    closed = matching[-1] if matching else candidates[-1]
    block = stack[closed]
    if not matching:
        conv.error(
            f"'{end}' has uuid {uuid} but the '{kind}' at {block.where} has uuid "
            f"{block.uuid}; taken as its end",
            where,
        )
    _close_inner(conv, stack, closed, end, where)
    del stack[closed:]


def _close_inner(
    conv: Conversion, stack: list[_OpenBlock], owner: int, marker: str, where: str
) -> None:
    """Close the blocks opened inside `stack[owner]` that lack their end marker."""
    for inner in reversed(stack[owner + 1 :]):
        conv.error(
            f"'{inner.kind}' has no '{END[inner.kind]}' before the '{marker}' at {where}; "
            "closed there",
            inner.where,
        )
    del stack[owner + 1 :]
