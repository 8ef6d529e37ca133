"""One IvoryOS action → one labdeck step (a leaf, or the header of an if/while/repeat block).

Owns the per-kind rules: `deck.<obj>` calls and property setters, `blocks.<cat>` functions,
registered `workflows`, and the built-in `variable`, `math_variable`, `input`, `wait`,
`pause` and `comment` actions; plus what every step shares (`return` → `save`, `disabled`,
`batch_action` → `per`). Anything it cannot convert becomes an error note and no step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from labdeck.workflow.import_ivoryos_context import (
    DROPPED,
    Conversion,
    arg_values,
    statement_value,
)
from labdeck.workflow.import_ivoryos_expr import MARKED_NAME, convert_expression
from labdeck.workflow.model import Step

StepDict = dict[str, Any]

# IvoryOS loops run until their condition is false; labdeck requires a cap.
WHILE_CAP = 1000
SETTER_SUFFIX = "_(setter)"
INPUT_TYPES = {"int": "integer", "float": "number", "str": "text", "bool": "boolean"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STEP: TypeAdapter[Any] = TypeAdapter(Step)


def sanitize_workflow_name(raw: str) -> str:
    """A labdeck workflow name: letters, digits, space, `_ . -`, starting with a letter/digit."""
    name = re.sub(r"[^A-Za-z0-9 _.-]+", "_", raw).strip()
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)[:128].strip()
    return name


def statement(action: Mapping[str, Any], default: Any = None) -> Any:
    args = action.get("args")
    return args.get("statement", default) if isinstance(args, Mapping) else default


def statement_type(action: Mapping[str, Any], default: str) -> str:
    types = action.get("arg_types")
    found = types.get("statement") if isinstance(types, Mapping) else None
    return found if isinstance(found, str) and found else default


# --- blocks ----------------------------------------------------------------------------------


def open_block(conv: Conversion, kind: str, action: Mapping[str, Any], where: str) -> StepDict:
    """The step for an `if`, `while` or `repeat` marker, with empty branches to fill."""
    step: StepDict = {"id": conv.new_id(kind, numbered=True), "kind": kind}
    if kind == "repeat":
        failed = "the block is kept but disabled, with the IvoryOS count in its note"
        count = statement(action, 1)
        times = statement_value(conv, count, "int", where, "repeat count", failed=failed)
        if times is DROPPED:
            _disable(step, "repeat count", statement(action))
            times = 1
        step |= {"times": times, "do": []}
    else:
        # IvoryOS's defaults for a blank statement: `if True`, `while False`.
        source = statement(action, "True" if kind == "if" else "False")
        text = source if isinstance(source, str) else str(source)
        converted = convert_expression(text)
        if converted.text is None:
            conv.error(
                f"{kind} condition {text!r} {converted.problem}; the block is kept but "
                f"disabled, with condition False and the IvoryOS condition in its note",
                where,
            )
            _disable(step, "condition", text)
            step["condition"] = "False"
        else:
            conv.use_names(converted.names, where, f"{kind} condition")
            step["condition"] = converted.text
        step |= {"then": [], "else": []} if kind == "if" else {"do": []}
    if kind == "while":
        step["max_iterations"] = WHILE_CAP
        conv.warn(
            f"IvoryOS while loops have no iteration cap; labdeck needs one: "
            f"max_iterations is set to {WHILE_CAP}, adjust it if needed",
            where,
        )
    if action.get("disabled") is True:
        step["disabled"] = True
    _per(conv, action, step, where)
    return step


def _disable(step: StepDict, what: str, original: Any) -> None:
    step["disabled"] = True
    step["note"] = f"IvoryOS {what} (not converted): {original}"


# --- leaves ----------------------------------------------------------------------------------


def convert_leaf(conv: Conversion, action: Mapping[str, Any], where: str) -> StepDict | None:
    """The step for one non-marker action, or None (with an error note) when impossible."""
    instrument = action.get("instrument")
    name = action.get("action")
    step: StepDict | None
    if isinstance(instrument, str) and instrument.startswith("deck."):
        step = _call(conv, instrument.removeprefix("deck."), name, action, where)
    elif isinstance(instrument, str) and instrument.startswith("blocks."):
        step = _function(conv, instrument, name, action, where)
    elif instrument == "workflows":
        step = _workflow(conv, name, action, where)
    elif instrument in ("variable", "math_variable"):
        step = _set(conv, instrument == "math_variable", name, action, where)
    elif instrument == "input":
        step = _input(conv, name, action, where)
    elif instrument == "wait":
        seconds = statement_value(conv, statement(action, 1), "float", where, "wait", cast=False)
        step = None if seconds is DROPPED else {"kind": "wait", "seconds": seconds}
    elif instrument == "pause":
        message = statement(action, "")
        # A blank pause message is stored as IvoryOS's field default, the number 1.
        text = message if isinstance(message, str) else "" if message in (1, None) else str(message)
        step = {"kind": "pause", "message": text}
    elif instrument == "comment":
        step = _comment(statement(action, ""))
    elif instrument == "pro_code":
        conv.error("a Python code block cannot be held in a labdeck workflow; dropped", where)
        return None
    else:
        conv.error(
            f"unknown action kind (instrument {instrument!r}, action {name!r}); not converted",
            where,
        )
        return None
    if step is None:
        return None
    return _finish(conv, step, action, where)


def _finish(
    conv: Conversion, step: StepDict, action: Mapping[str, Any], where: str
) -> StepDict | None:
    """What all leaves share: the id, save, disabled, per; then check it against the model."""
    if "id" not in step:
        step = {"id": conv.new_id(step["kind"], numbered=True), **step}
    if step["kind"] in ("call", "workflow"):
        save = _save(conv, action.get("return"), where)
        if save is not None:
            step["save"] = save
    if action.get("disabled") is True:
        step["disabled"] = True
    _per(conv, action, step, where)
    try:
        _STEP.validate_python(step)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"][1:])
        conv.error(f"could not be converted ({place}: {first['msg']}); dropped", where)
        conv.step_ids.discard(step["id"])
        return None
    conv.saved(step.get("save"))
    if step["kind"] == "set":
        conv.variables.add(step["name"])
    return step


def _per(conv: Conversion, action: Mapping[str, Any], step: StepDict, where: str) -> None:
    batch = action.get("batch_action") is True
    if batch and step["kind"] == "call":
        step["per"] = "batch"
        _consolidation(conv, action, step, where)
    elif batch:
        conv.warn(
            f"'batch_action' is dropped: a labdeck {step['kind']} step runs once per sample",
            where,
        )


def _consolidation(conv: Conversion, action: Mapping[str, Any], step: StepDict, where: str) -> None:
    # A labdeck per-batch step gets every parameter as the list of the batch's values;
    # IvoryOS did that only for the arguments named in consolidate_batch_args.
    listed = action.get("consolidate_batch_args")
    args = step.get("args", {})
    uses_param = [k for k, v in args.items() if isinstance(v, dict) and "param" in v]
    lists = set(args) if listed is True else set(listed) if isinstance(listed, list) else set()
    changed = [name for name in uses_param if name not in lists]
    if changed:
        conv.warn(
            f"per-batch step: arguments {', '.join(changed)} now receive the list of the "
            f"batch's parameter values (IvoryOS did not consolidate them)",
            where,
        )


def _save(conv: Conversion, raw: Any, where: str) -> Any:
    """`"name"` → `"name"`; `["a", "b", ""]` → `["a", "b", None]`; nothing → None."""
    if isinstance(raw, str):
        return conv.identifier(raw, where, "output name") if raw else None
    if isinstance(raw, list):
        names = [conv.identifier(item, where, "output name") for item in raw]
        return names if any(names) else None
    if raw not in (None, False):
        conv.warn(f"'return' {raw!r} is neither a name nor a list of names; ignored", where)
    return None


def _call(
    conv: Conversion, obj: str, method: Any, action: Mapping[str, Any], where: str
) -> StepDict | None:
    if not isinstance(method, str) or not method:
        conv.error(f"action on deck.{obj} names no method; not converted", where)
        return None
    setter = method.endswith(SETTER_SUFFIX)
    member = method.removesuffix(SETTER_SUFFIX)
    if not (_IDENTIFIER.fullmatch(obj) and _IDENTIFIER.fullmatch(member)):
        conv.error(
            f"deck.{obj}.{member} is not an instrument.member target labdeck can call; "
            "not converted",
            where,
        )
        return None
    args = arg_values(conv, action, where)
    if setter:
        # The synthetic setter action has one argument, `value`.
        if "value" in args:
            value = args.pop("value")
        elif len(args) == 1:
            value = args.popitem()[1]
        else:
            conv.error(f"setting {obj}.{member} needs a value; not converted", where)
            return None
        if args:
            conv.warn(f"extra arguments to the {member} setter dropped: {', '.join(args)}", where)
        args = {"set": value}
    _check_member(conv, obj, member, setter, where)
    step_id = conv.new_id(f"set_{member}" if setter else member)
    return {"id": step_id, "kind": "call", "target": f"{obj}.{member}", "args": args}


def _check_member(conv: Conversion, obj: str, member: str, setter: bool, where: str) -> None:
    if conv.deck is None:
        return
    instrument = conv.deck.instruments.get(obj)
    if instrument is None:
        conv.warn(f"the deck {conv.deck.name!r} has no instrument {obj!r}", where)
        return
    prop = instrument.properties.get(member)
    if setter and prop is None:
        conv.warn(f"instrument {obj!r} has no property {member!r} to set", where)
    elif setter and prop is not None and not prop.settable:
        conv.warn(f"property {obj}.{member} is read-only on this deck", where)
    elif not setter and prop is None and member not in instrument.methods:
        conv.warn(f"instrument {obj!r} has no method or property {member!r}", where)


def _function(
    conv: Conversion, instrument: str, name: Any, action: Mapping[str, Any], where: str
) -> StepDict | None:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        conv.error(f"{instrument} action {name!r} is not a function name; not converted", where)
        return None
    step: StepDict = {"id": conv.new_id(name), "kind": "call", "target": name}
    step["args"] = arg_values(conv, action, where)
    if conv.deck is not None and name not in conv.deck.functions:
        conv.error(
            f"IvoryOS block {instrument}.{name} is not a function of the deck "
            f"{conv.deck.name!r}; the step is kept but cannot run until the deck defines it",
            where,
        )
    return step


def _workflow(
    conv: Conversion, raw_name: Any, action: Mapping[str, Any], where: str
) -> StepDict | None:
    name = sanitize_workflow_name(raw_name) if isinstance(raw_name, str) else ""
    if not name:
        conv.error(f"registered workflow action names no workflow ({raw_name!r})", where)
        return None
    if name != raw_name:
        conv.warn(f"workflow name {raw_name!r} is not a valid name; renamed to {name!r}", where)
    step: StepDict = {"id": conv.new_id(name), "kind": "workflow"}
    step |= {"workflow": name, "args": arg_values(conv, action, where)}
    message = f"runs the library workflow {name!r} (import it too)"
    snapshot = action.get("workflow")
    if isinstance(snapshot, list):
        steps = "1 step" if len(snapshot) == 1 else f"{len(snapshot)} steps"
        message += f"; its embedded copy ({steps}) is dropped in favour of the library version"
        inner = _names_set_inside(snapshot)
        if inner:
            # IvoryOS writes them into the calling workflow's context.
            conv.variables.update(inner)
            message += f"; it sets {', '.join(inner)}, taken as saved here: check the step's save"
    conv.warn(message, where)
    return step


def _names_set_inside(actions: list[Any]) -> list[str]:
    names: dict[str, None] = {}
    for action in actions:
        if not isinstance(action, Mapping):
            continue
        returned = action.get("return")
        for name in returned if isinstance(returned, list) else [returned]:
            if isinstance(name, str) and _IDENTIFIER.fullmatch(name):
                names[name] = None
        if action.get("instrument") in ("variable", "math_variable", "input"):
            name = action.get("action")
            if isinstance(name, str) and _IDENTIFIER.fullmatch(name):
                names[name] = None
    return list(names)


def _set(
    conv: Conversion, math: bool, raw_name: Any, action: Mapping[str, Any], where: str
) -> StepDict | None:
    what = "math variable" if math else "variable"
    name = conv.identifier(raw_name, where, f"{what} name")
    if name is None:
        conv.error(f"{what} action names no variable; not converted", where)
        return None
    # IvoryOS math variables default to float; a variable without a type is taken as given.
    kind = statement_type(action, "float" if math else "")
    value = statement_value(conv, statement(action), kind, where, f"{what} {name!r}")
    if value is DROPPED:
        return None
    return {"id": conv.new_id(f"set_{name}"), "kind": "set", "name": name, "value": value}


def _input(
    conv: Conversion, raw_name: Any, action: Mapping[str, Any], where: str
) -> StepDict | None:
    returned = action.get("return")
    name = conv.identifier(returned if returned else raw_name, where, "input variable")
    if name is None:
        conv.error("input action names no variable to save the answer in; not converted", where)
        return None
    declared = statement_type(action, "str")
    kind = INPUT_TYPES.get(declared)
    if kind is None:
        conv.warn(f"input type {declared!r} is not one of int, float, str, bool; text used", where)
        kind = "text"
    prompt = statement(action, "")
    return {
        "id": conv.new_id(f"input_{name}"),
        "kind": "input",
        "prompt": "" if prompt is None else str(prompt),
        "save": name,
        "type": kind,
    }


def _comment(raw: Any) -> StepDict:
    text = "" if raw is None else str(raw)
    # Braces are placeholders in labdeck comments: the author's own braces are doubled.
    text = text.replace("{", "{{").replace("}", "}}")
    return {"kind": "comment", "text": MARKED_NAME.sub(r"{\1}", text)}
