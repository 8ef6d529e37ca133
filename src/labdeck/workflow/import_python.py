"""Import a Python function as a draft workflow, by parsing it (never by running it).

Owns the document-level reading of a source: which function is the workflow (the one named,
or the first that is not private, a helper `ask`/`pause`, or a prep/cleanup), its
`<name>_prep` and `<name>_cleanup` neighbours as the prep and cleanup phases, the function's
parameters as run parameters, its final `return` as the outputs, and the rule that an import
fails loudly: every statement that could not be converted is an error note with its line
(the partial document is still returned, and `ImportResult.errors` is not empty), and when
nothing converted at all `ImportFailed` is raised instead of handing back an empty workflow.

The conventions read here are the export's (`render_python`): prep returns its variables as a
dict, and the script and cleanup take them as keyword-only arguments, which are therefore
not run parameters. The source is given to `ast.parse` and `tokenize` only; no line of it is
executed, compiled to code objects or imported.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Literal

from pydantic import ValidationError

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.import_python_expr import literal_value
from labdeck.workflow.import_python_source import prepare_source
from labdeck.workflow.import_python_steps import StepConverter
from labdeck.workflow.model import FORMAT, WorkflowDocument
from labdeck.workflow.report import ImportFailed, ImportNote, ImportResult

HELPERS = frozenset({"ask", "pause"})  # the export's stand-ins, never a workflow
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
AnyFunction = ast.FunctionDef | ast.AsyncFunctionDef


def import_python(
    source: str,
    deck: InterfaceSchema,
    function: str | None = None,
    name: str | None = None,
) -> ImportResult:
    """Convert one function of `source` into a draft workflow for `deck`.

    Raises `ImportFailed` (with notes) when the source does not parse, the function is not
    there, or none of its statements could be converted.
    """
    _check_syntax(source)
    prepared = prepare_source(source)
    report: list[ImportNote] = list(prepared.notes)
    tree = ast.parse(prepared.text)
    functions = {node.name: node for node in tree.body if isinstance(node, AnyFunction)}
    chosen = _choose(functions, function)
    prep_function = functions.get(f"{chosen.name}_prep")
    cleanup_function = functions.get(f"{chosen.name}_cleanup")
    phases = {chosen.name, f"{chosen.name}_prep", f"{chosen.name}_cleanup"}
    # Any other function of the file is a workflow that this one may call.
    converter = StepConverter(deck, prepared, set(functions) - HELPERS - phases, report)

    prep: list[dict[str, Any]] = []
    if prep_function is not None:
        _ignore_arguments(prep_function, set(), report)
        body, returned = _split(prep_function)
        _prep_return(returned, report)
        prep = converter.convert(body, set())
    prep_vars = set(_saved_names(prep))

    parameters = _parameters(chosen, prep_vars, report)
    body, returned = _split(chosen)
    script = converter.convert(body, {parameter["name"] for parameter in parameters})
    outputs = _outputs(returned, report)

    cleanup: list[dict[str, Any]] = []
    if cleanup_function is not None:
        _ignore_arguments(cleanup_function, prep_vars, report)
        body, returned = _split(cleanup_function)
        if returned is not None and returned.value is not None:
            _note(report, "error", "cleanup has no outputs: its return value is ignored", returned)
        cleanup = converter.convert(body, set())

    if not (prep or script or cleanup):
        raise ImportFailed(f"nothing in {chosen.name}() could be converted to a step", report)
    document = {
        "format": FORMAT,
        "name": _document_name(name, chosen.name, report),
        "description": ast.get_docstring(chosen) or "",
        "parameters": parameters,
        "outputs": outputs,
        "prep": prep,
        "script": script,
        "cleanup": cleanup,
    }
    try:
        converted = WorkflowDocument.model_validate(document)
    except ValidationError as error:
        problem = error.errors()[0]["msg"]
        _note(report, "error", f"the converted workflow is not valid: {problem}", None)
        raise ImportFailed(f"the converted workflow is not valid: {problem}", report) from None
    return ImportResult(document=converted, report=report)


def _check_syntax(source: str) -> None:
    try:
        ast.parse(source)
    except SyntaxError as error:
        message = f"not valid Python: {error.msg}"
        note = ImportNote(severity="error", message=message, line=error.lineno)
        where = f" (line {error.lineno})" if error.lineno else ""
        raise ImportFailed(f"{message}{where}", [note]) from None
    except ValueError as error:  # e.g. a NUL character, which Python refuses to parse
        note = ImportNote(severity="error", message=f"not valid Python: {error}")
        raise ImportFailed(f"not valid Python: {error}", [note]) from None


def _choose(functions: dict[str, AnyFunction], wanted: str | None) -> AnyFunction:
    listed = ", ".join(functions) or "none"
    if wanted is not None:
        if wanted in functions:
            return functions[wanted]
        message = f"no function {wanted!r} in the source (functions: {listed})"
        raise ImportFailed(message, [ImportNote(severity="error", message=message)])
    for candidate, node in functions.items():
        phase_of = candidate.removesuffix("_prep").removesuffix("_cleanup")
        private = candidate.startswith("_")
        if private or candidate in HELPERS or (phase_of != candidate and phase_of in functions):
            continue
        return node
    message = f"the source defines no workflow function (functions: {listed})"
    raise ImportFailed(message, [ImportNote(severity="error", message=message)])


def _split(function: AnyFunction) -> tuple[list[ast.stmt], ast.Return | None]:
    """The statements that become steps, without the docstring and the final `return`."""
    body = list(function.body)
    if ast.get_docstring(function, clean=False) is not None:
        body = body[1:]
    if body and isinstance(body[-1], ast.Return):
        last = body[-1]
        assert isinstance(last, ast.Return)
        return body[:-1], last
    return body, None


def _parameters(
    function: AnyFunction, prep_vars: set[str], report: list[ImportNote]
) -> list[dict[str, Any]]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    pairs = list(zip(positional, [*defaults, *arguments.defaults], strict=True))
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if argument.arg not in prep_vars:  # prep variables are handed over, not run parameters
            pairs.append((argument, default))
    parameters: list[dict[str, Any]] = []
    for argument, default in pairs:
        if not _NAME.match(argument.arg):
            _note(report, "error", f"parameter {argument.arg!r} is not an ASCII name", argument)
            continue
        if any(parameter["name"] == argument.arg for parameter in parameters):
            _note(report, "error", f"parameter {argument.arg!r} is listed twice", argument)
            continue
        parameter: dict[str, Any] = {"name": argument.arg}
        if default is not None:
            known, value = literal_value(default)
            if known:
                parameter["default"] = value
            else:
                message = f"the default of {argument.arg} is not a literal: left empty"
                _note(report, "warning", message, default)
        parameters.append(parameter)
    for extra in (arguments.vararg, arguments.kwarg):
        if extra is not None:
            message = f"{extra.arg} (*args/**kwargs) cannot become run parameters: ignored"
            _note(report, "error", message, extra)
    return parameters


def _outputs(returned: ast.Return | None, report: list[ImportNote]) -> list[str]:
    if returned is None or returned.value is None:
        return []
    value = returned.value
    names: list[str] = []
    if isinstance(value, ast.Constant) and value.value is None:
        return []
    if isinstance(value, ast.Name):
        names = [value.id]
    elif isinstance(value, ast.Tuple) and all(isinstance(item, ast.Name) for item in value.elts):
        names = [item.id for item in value.elts if isinstance(item, ast.Name)]
    elif isinstance(value, ast.Dict):
        for key, item in zip(value.keys, value.values, strict=True):
            label = ast.unparse(key) if key is not None else "**"
            if (
                isinstance(key, ast.Constant)
                and isinstance(item, ast.Name)
                and key.value == item.id
            ):
                names.append(item.id)
            else:
                message = f"output {label}: outputs are variables returned under their own name"
                _note(report, "error", message, item)
    else:
        message = "the return value is not a dict of variables: outputs not converted"
        _note(report, "error", message, returned)
    kept = [name for name in dict.fromkeys(names) if _NAME.match(name)]
    for dropped in set(names) - set(kept):
        _note(report, "error", f"output {dropped!r} is not an ASCII name", returned)
    return kept


def _prep_return(returned: ast.Return | None, report: list[ImportNote]) -> None:
    """Prep hands its variables over as a dict (the export's convention); nothing else."""
    if returned is None or returned.value is None:
        return
    value = returned.value
    if isinstance(value, ast.Dict) and all(
        isinstance(item, ast.Name) and isinstance(key, ast.Constant) and key.value == item.id
        for key, item in zip(value.keys, value.values, strict=True)
    ):
        return
    message = "prep returns its variables as {'name': name, ...}: this return value is ignored"
    _note(report, "error", message, returned)


def _ignore_arguments(function: AnyFunction, allowed: set[str], report: list[ImportNote]) -> None:
    arguments = function.args
    names = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
    extra = [name for name in names if name not in allowed]
    if extra:
        message = f"{function.name}() runs once per run and takes no parameters: {extra} ignored"
        _note(report, "warning", message, function)


def _saved_names(steps: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for step in steps:
        if step.get("disabled"):
            continue
        save = step.get("save")
        if step["kind"] == "set":
            names.append(step["name"])
        elif step["kind"] == "repeat" and step.get("index"):
            names.append(step["index"])
        elif isinstance(save, str):
            names.append(save)
        elif isinstance(save, list):
            names += [item for item in save if item]
        for branch in ("then", "else", "do"):
            names += _saved_names(step.get(branch, []))
    return names


def _document_name(name: str | None, function: str, report: list[ImportNote]) -> str:
    if name is not None:
        return name
    candidate = function.strip("_")
    if _WORKFLOW_NAME.match(candidate):
        return candidate
    _note(report, "warning", f"{function!r} is not a workflow name: named 'imported'", None)
    return "imported"


def _note(
    report: list[ImportNote],
    severity: Literal["warning", "error"],
    message: str,
    node: ast.AST | None,
) -> None:
    line = getattr(node, "lineno", None) if node is not None else None
    report.append(ImportNote(severity=severity, message=message, line=line))
