"""From JSON arguments to a driver call: one pydantic model per callable, built from its hints.

The same model produces the `params_schema` shown in the UI and validates the `args` of a
call, so what the form offers and what the call accepts cannot drift apart. There is no
hand-written type switch: pydantic converts, after `annotations.py` has rewritten Enums and
Literals where the integrator's intent differs from pydantic's default.

Owns the resolution of a callable's type hints, the args model and its `CallSpec`, the
converters built from it (`make_converter`, `make_value_converter`) and the shape of
validation errors (`field_errors`). Only the parameters the caller gave are passed, so
Python's own defaults apply to the rest.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, create_model

from labdeck.deck.annotations import NO_HINT, mentions_class_type, rewrite_annotation, type_name
from labdeck.deck.bindings import BoundCall
from labdeck.deck.jsonsafe import to_jsonable
from labdeck.deck.jsonschema import QuietJsonSchema, inline_refs, json_default, schema_for
from labdeck.deck.schema import ParamInfo
from labdeck.errors import InvalidInput

_NO_EXTRAS: Any = object()
_P = inspect.Parameter
_KINDS: dict[Any, Any] = {
    _P.POSITIONAL_ONLY: "positional_only",
    _P.POSITIONAL_OR_KEYWORD: "positional_or_keyword",
    _P.KEYWORD_ONLY: "keyword_only",
}
# Union branch tags pydantic inserts into error locations; they are not part of the data path.
_UNION_TAGS = frozenset(
    {
        *("int", "str", "float", "bool", "none", "bytes", "complex", "decimal", "uuid", "url"),
        *("list", "dict", "tuple", "set", "frozenset", "date", "time", "datetime", "timedelta"),
        *("any", "callable", "is-instance", "is-subclass", "literal", "enum", "chain"),
        *("model", "dataclass", "typed-dict", "json-or-python", "lax-or-strict"),
    }
)


# --- type hints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hints:
    """Resolved annotations of a callable; `unresolved` maps a name to why it failed.

    `written` keeps the annotations as written (strings under `from __future__ import
    annotations`), for messages that should read like the integrator's code.
    """

    params: dict[str, Any]
    unresolved: dict[str, str]
    written: dict[str, Any]

    @property
    def returns(self) -> Any:
        return self.params.get("return", NO_HINT)


def resolve_hints(func: Any, *, localns: Mapping[str, Any] | None = None) -> Hints:
    """`typing.get_type_hints`, falling back to one annotation at a time.

    Works with `from __future__ import annotations` (strings are evaluated in the function's
    module); `localns` (the defining class's namespace) is tried when globals are not enough.
    """
    source = _hint_source(func)
    raw = getattr(source, "__annotations__", None)
    written = dict(raw) if isinstance(raw, dict) else {}
    attempts = [None, dict(localns)] if localns else [None]
    for local in attempts:
        with contextlib.suppress(Exception):
            hints = typing.get_type_hints(source, localns=local, include_extras=True)
            return Hints(hints, {}, written)
    try:
        globalns = getattr(inspect.unwrap(source), "__globals__", {})
    except Exception:
        globalns = {}
    resolved: dict[str, Any] = {}
    unresolved: dict[str, str] = {}
    for name, annotation in written.items():
        try:
            holder = types.SimpleNamespace(__annotations__={name: annotation})
            resolved[name] = typing.get_type_hints(
                holder, globalns=globalns, localns=dict(localns or {}), include_extras=True
            )[name]
        except Exception as exc:
            unresolved[name] = f"its type hint {type_name(annotation)!r} cannot be resolved ({exc})"
    return Hints(resolved, unresolved, written)


def _hint_source(func: Any) -> Any:
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__func__", func)


# --- argument models ------------------------------------------------------------------------


@dataclass
class _Param:
    name: str
    field: str
    kind: Any
    default: Any
    hint: Any
    written: Any
    doc: str
    problem: str | None = None

    @property
    def required(self) -> bool:
        return bool(self.default is _P.empty)


@dataclass(frozen=True)
class CallSpec:
    """Everything introspection needs to describe a callable and convert its arguments."""

    target: str
    params: list[ParamInfo]
    params_schema: dict[str, Any]
    accepts_extra: bool
    callable: bool
    reason: str | None
    returns_hint: Any
    converter: Callable[[Mapping[str, Any]], BoundCall] = field(repr=False)


def make_converter(
    func: Callable[..., Any],
    *,
    target: str | None = None,
    localns: Mapping[str, Any] | None = None,
) -> Callable[[Mapping[str, Any]], BoundCall]:
    """The argument converter of `func`: JSON `args` mapping in, `BoundCall` out."""
    name = target or getattr(func, "__qualname__", None) or repr(func)
    return build_call_spec(func, target=name, localns=localns).converter


def build_call_spec(
    func: Callable[..., Any],
    *,
    target: str,
    localns: Mapping[str, Any] | None = None,
    param_docs: Mapping[str, str] | None = None,
) -> CallSpec:
    """Build the args model of `func` and describe it. Never raises for a bad signature."""
    docs = param_docs or {}
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        return _not_callable(target, f"its signature cannot be read ({exc})")
    hints = resolve_hints(func, localns=localns)
    params: list[_Param] = []
    kwargs_name: str | None = None
    for index, parameter in enumerate(signature.parameters.values()):
        if parameter.kind is _P.VAR_POSITIONAL:
            continue  # *args cannot be named in a JSON object
        if parameter.kind is _P.VAR_KEYWORD:
            kwargs_name = parameter.name
            continue
        hint = hints.params.get(parameter.name, Any)
        param = _Param(
            name=parameter.name,
            field=f"p{index}",
            kind=parameter.kind,
            default=parameter.default,
            hint=hint,
            written=hints.written.get(parameter.name, hint),
            doc=docs.get(parameter.name, ""),
            problem=hints.unresolved.get(parameter.name),
        )
        if param.problem is None and mentions_class_type(hint):
            param.problem = _not_json(param.written)
        params.append(param)
    # Extras are accepted only when **kwargs exists and its value type can come from JSON.
    extras_hint: Any = _NO_EXTRAS
    if kwargs_name is not None and kwargs_name not in hints.unresolved:
        candidate = hints.params.get(kwargs_name, Any)
        if schema_for(candidate) is not None:
            extras_hint = candidate
    accepts_extra = extras_hint is not _NO_EXTRAS
    model, schema, error = _args_model(target, params, accepts_extra)
    if error is not None:
        for param in params:
            if param.problem is None and schema_for(param.hint) is None:
                param.problem = _not_json(param.written)
        model, schema, error = _args_model(target, params, accepts_extra)
    blocking = [param for param in params if param.problem and param.required]
    reason = "; ".join(f"parameter {param.name!r}: {param.problem}" for param in blocking) or None
    if reason is None and error is not None:
        reason = f"its arguments cannot be described as JSON ({error})"
    if accepts_extra:
        schema["additionalProperties"] = schema_for(extras_hint) or True
    infos = [_param_info(param) for param in params]
    if reason is not None or model is None:
        converter: Callable[[Mapping[str, Any]], BoundCall] = _refuse(target, reason)
    else:
        typed_extras = accepts_extra and extras_hint is not Any
        extras = TypeAdapter(rewrite_annotation(extras_hint)) if typed_extras else None
        converter = _Converter(target, model, params, extras)
    is_callable = reason is None
    return CallSpec(
        target, infos, schema, accepts_extra, is_callable, reason, hints.returns, converter
    )


def _args_model(
    target: str, params: list[_Param], accepts_extra: bool
) -> tuple[Any, dict[str, Any], str | None]:
    fields: dict[str, Any] = {}
    for param in params:
        if param.problem:
            continue
        # Only what is known is set: an explicit None would override the parameter's own
        # Annotated[..., Field(description=...)].
        options: dict[str, Any] = {"alias": param.name}
        if param.doc:
            options["description"] = param.doc
        if not param.required:
            # pydantic never sees the real default: only given parameters are passed, so the
            # model's None is never used, and an odd default object cannot warn or clash.
            options["default"] = None
            options["json_schema_extra"] = _show_default(*json_default(param.default))
        info = Field(**options)
        fields[param.field] = (rewrite_annotation(param.hint), info)
    config = ConfigDict(
        extra="allow" if accepts_extra else "forbid",
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        protected_namespaces=(),
    )
    try:
        model = create_model(f"Args[{target}]", __config__=config, **fields)
        raw = model.model_json_schema(by_alias=True, schema_generator=QuietJsonSchema)
    except Exception as exc:
        return (
            None,
            _object_schema({}, [], accepts_extra),
            f"{type(exc).__name__}: {exc}".splitlines()[0],
        )
    raw = inline_refs(raw)
    schema = _object_schema(raw.get("properties", {}), raw.get("required", []), accepts_extra)
    if "$defs" in raw:
        schema["$defs"] = raw["$defs"]
    return model, schema, None


def _not_json(annotation: Any) -> str:
    return f"type {type_name(annotation)} cannot be given as JSON"


def _show_default(shown: bool, value: Any) -> Callable[[dict[str, Any]], None]:
    def update(schema: dict[str, Any]) -> None:
        schema.pop("default", None)
        if shown:
            schema["default"] = value

    return update


def _object_schema(properties: dict[str, Any], required: list[str], extra: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": extra,
    }


def _param_info(param: _Param) -> ParamInfo:
    doc = param.doc
    if param.problem and not param.required:
        note = f"Not settable from JSON: {param.problem}; its default is used."
        doc = f"{doc}\n\n{note}" if doc else note
    default = None if param.required else json_default(param.default)[1]
    return ParamInfo(
        name=param.name, doc=doc, required=param.required, default=default, kind=_KINDS[param.kind]
    )


def _refuse(target: str, reason: str | None) -> Callable[[Mapping[str, Any]], BoundCall]:
    def refuse(raw_args: Mapping[str, Any]) -> BoundCall:
        raise InvalidInput(
            f"{target} cannot be called with JSON arguments: {reason}", code="NOT_CALLABLE"
        )

    return refuse


def _not_callable(target: str, reason: str) -> CallSpec:
    schema = _object_schema({}, [], False)
    return CallSpec(target, [], schema, False, False, reason, NO_HINT, _refuse(target, reason))


class _Converter:
    """Validates a JSON `args` object and lays it out as Python call arguments."""

    def __init__(
        self, target: str, model: Any, params: list[_Param], extras: TypeAdapter[Any] | None
    ) -> None:
        self.target = target
        self.model = model
        self.params = [param for param in params if not param.problem]
        self.omitted = {param.name: param.problem for param in params if param.problem}
        self.positional = [param for param in params if param.kind is _P.POSITIONAL_ONLY]
        self.extras = extras

    def __call__(self, raw_args: object) -> BoundCall:
        if not isinstance(raw_args, Mapping):
            problem = f"arguments must be a JSON object, not {type(raw_args).__name__}"
            raise InvalidInput(
                f"invalid arguments for {self.target}",
                fields=[{"field": "", "message": problem, "type": "model_type"}],
            )
        data = dict(raw_args)
        errors = [
            {
                "field": name,
                "message": f"cannot be given as JSON: {problem}",
                "type": "not_settable",
            }
            for name, problem in self.omitted.items()
            if name in data
        ]
        for error in errors:
            del data[error["field"]]
        given: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        try:
            validated = self.model.model_validate(data)
        except ValidationError as exc:
            errors.extend(field_errors(exc))
        else:
            given = {
                param.name: getattr(validated, param.field)
                for param in self.params
                if param.field in validated.model_fields_set
            }
            extras = dict(validated.__pydantic_extra__ or {})
            if self.extras is not None:
                extras = self._check_extras(extras, errors)
        if errors:
            raise InvalidInput(f"invalid arguments for {self.target}", fields=errors)
        return self._bind(given, extras)

    def _check_extras(self, extras: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Any]:
        assert self.extras is not None
        checked = {}
        for key, value in extras.items():
            try:
                checked[key] = self.extras.validate_python(value)
            except ValidationError as exc:
                errors.extend(field_errors(exc, prefix=str(key)))
        return checked

    def _bind(self, given: dict[str, Any], extras: dict[str, Any]) -> BoundCall:
        # Positional-only parameters cannot be skipped: a gap before a given one gets the
        # signature's own default.
        last = max(
            (i for i, param in enumerate(self.positional) if param.name in given), default=-1
        )
        args = tuple(given.get(param.name, param.default) for param in self.positional[: last + 1])
        positional = {param.name for param in self.positional}
        kwargs = {name: value for name, value in given.items() if name not in positional}
        kwargs.update(extras)
        recorded = {name: to_jsonable(value) for name, value in {**given, **extras}.items()}
        return BoundCall(args=args, kwargs=kwargs, recorded=recorded)


def make_value_converter(annotation: Any, *, target: str) -> Callable[[Any], Any] | None:
    """Converter for a property's new value, or None when the type cannot come from JSON."""
    if schema_for(annotation) is None:
        return None
    adapter: TypeAdapter[Any] = TypeAdapter(rewrite_annotation(annotation))

    def convert(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise InvalidInput(
                f"invalid value for {target}", fields=field_errors(exc, prefix="value")
            ) from None

    return convert


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[dict[str, Any]]:
    """pydantic errors as `[{"field", "message", "type"}]`, fields as dotted data paths."""
    fields = []
    for error in exc.errors(include_url=False, include_input=False):
        parts = [prefix] if prefix else []
        parts += [str(part) for part in error["loc"] if not _is_union_tag(part)]
        fields.append({"field": ".".join(parts), "message": error["msg"], "type": error["type"]})
    return fields


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part in _UNION_TAGS)
