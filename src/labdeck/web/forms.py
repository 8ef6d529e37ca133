"""HTML form fields from a method's JSON Schema, and submitted forms back to JSON arguments.

Owns the widget rules of the Devices page and the conversion of what a browser submits into
the `args` object of a call. Pure functions, no web framework: the page routes and the tests
call them directly.

Widget rules: Enum/Literal/const → `select` (labels shown, JSON values submitted); bool →
`checkbox` (a hidden "false" precedes it, so unchecked submits false); int/float → `number`;
str → `text`; anything else (lists, tuples, sets, dicts, unions, unannotated) → `json`.
Optional (a null branch) lets the field be left blank. Numbers are passed on as the typed
strings: the service converts them with the method's pydantic model, which gives the real
per-field messages.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from labdeck.deck.schema import MethodSchema, ParamInfo, PropertySchema

Widget = Literal["select", "checkbox", "number", "text", "json"]
FormValue = str | list[str]

# Name of the JSON field offered when a method takes **kwargs. Dunder names are not used as
# parameter names in practice, so it cannot shadow a real parameter.
EXTRA_FIELD = "__extra__"
MAX_LISTED_OPTIONS = 6
_ITEM_WORDS = {
    "number": "numbers",
    "integer": "whole numbers",
    "string": "text values",
    "boolean": "true/false values",
    "object": "objects",
    "array": "lists",
}
_ITEM_EXAMPLES = {
    "number": "[1.5, 2.5]",
    "integer": "[1, 2, 3]",
    "string": '["A1", "B12"]',
    "boolean": "[true, false]",
}


@dataclass
class FormField:
    """One input of a generated form."""

    name: str
    label: str
    widget: Widget
    required: bool
    nullable: bool
    default: str = ""  # the text to pre-fill ("true"/"false" for a checkbox)
    options: list[tuple[str, str]] = field(default_factory=list)  # (label, value as JSON)
    minimum: float | None = None
    maximum: float | None = None
    step: str | None = None
    doc: str = ""
    type_hint: str = ""
    placeholder: str = ""
    schema: dict[str, Any] = field(default_factory=dict, repr=False)  # non-null branch
    has_default: bool = False
    default_value: Any = None

    @property
    def optional(self) -> bool:
        """May be left blank (a default applies, or blank means null)."""
        return self.nullable or not self.required


# --- schema helpers ---------------------------------------------------------------------------


def _resolve(schema: Any, root: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """Follow `$ref` into `$defs` and single-item `allOf`, keeping the outer keys."""
    if not isinstance(schema, Mapping):
        return {}
    result = dict(schema)
    if depth > 20:  # a self-referencing schema: stop unrolling
        return result
    ref = result.pop("$ref", None)
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        result = {**_resolve(target, root, depth + 1), **result}
    all_of = result.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        del result["allOf"]
        result = {**_resolve(all_of[0], root, depth + 1), **result}
    return result


def _split_null(schema: dict[str, Any], root: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The non-null part of a schema and whether null is allowed (Optional[...])."""
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if not isinstance(branches, list):
            continue
        resolved = [_resolve(branch, root) for branch in branches]
        others = [b for b in resolved if b.get("type") != "null"]
        nullable = len(others) < len(resolved)
        outer = {k: v for k, v in schema.items() if k != key}
        if len(others) == 1:
            inner, inner_nullable = _split_null(others[0], root)
            return {**inner, **outer}, nullable or inner_nullable
        return {**outer, key: others}, nullable
    types = schema.get("type")
    if isinstance(types, list):
        remaining = [t for t in types if t != "null"]
        nullable = len(remaining) < len(types)
        core = dict(schema)
        if len(remaining) == 1:
            core["type"] = remaining[0]
        else:
            core.pop("type")
            core["anyOf"] = [{"type": t} for t in remaining]
        return core, nullable
    if isinstance(schema.get("enum"), list) and None in schema["enum"]:
        return {**schema, "enum": [v for v in schema["enum"] if v is not None]}, True
    return schema, False


def _choices(schema: Mapping[str, Any]) -> list[Any] | None:
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return None


def _widget(schema: Mapping[str, Any], nullable: bool) -> Widget:
    if _choices(schema) is not None:
        return "select"
    kind = schema.get("type")
    if kind == "boolean":
        return "select" if nullable else "checkbox"  # a checkbox cannot say "not set"
    if kind in ("integer", "number"):
        return "number"
    if kind == "string":
        return "text"
    return "json"


def _number_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _option_label(value: Any, name: Any) -> str:
    """The Enum member name, or the value when the name is the same word in capitals."""
    text = value if isinstance(value, str) else json.dumps(value)
    if not isinstance(name, str):
        return text
    if isinstance(value, str) and _same_word(name, value):
        return value
    return name


def _same_word(a: str, b: str) -> bool:
    return re.sub(r"[\s_-]", "", a).casefold() == re.sub(r"[\s_-]", "", b).casefold()


def _options(schema: Mapping[str, Any], nullable: bool) -> list[tuple[str, str]]:
    values = _choices(schema)
    if values is None:  # a nullable bool
        values = [True, False]
        names: list[Any] = ["yes", "no"]
    else:
        raw_names = schema.get("x-enum-names")
        names = list(raw_names) if isinstance(raw_names, list) else []
    options = [
        (_option_label(value, names[i] if i < len(names) else None), json.dumps(value))
        for i, value in enumerate(values)
    ]
    if nullable:
        options.insert(0, ("— none —", ""))
    return options


def _range_text(schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    low_x, high_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if low is not None and high is not None:
        return f"from {_number_text(low)} to {_number_text(high)}"
    parts = []
    if low_x is not None:
        parts.append(f"above {_number_text(low_x)}")
    elif low is not None:
        parts.append(f"at least {_number_text(low)}")
    if high_x is not None:
        parts.append(f"below {_number_text(high_x)}")
    elif high is not None:
        parts.append(f"at most {_number_text(high)}")
    return ", ".join(parts)


def _json_description(schema: Mapping[str, Any], root: Mapping[str, Any]) -> tuple[str, str]:
    """A short human description of a JSON value's shape, and an example placeholder."""
    kind = schema.get("type")
    if kind == "array":
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            example = "[" + ", ".join(["…"] * len(prefix)) + "]"
            return f"list of {len(prefix)} values (JSON)", example
        items, _ = _split_null(_resolve(schema.get("items", {}), root), root)
        item_kind = items.get("type") if isinstance(items.get("type"), str) else None
        words = _ITEM_WORDS.get(item_kind or "", "values")
        if _choices(items):
            words = "values from " + "/".join(str(v) for v in _choices(items) or [])
        distinct = "distinct " if schema.get("uniqueItems") else ""
        return f"list of {distinct}{words} (JSON)", _ITEM_EXAMPLES.get(item_kind or "", "[…]")
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and isinstance(extra.get("type"), str):
            words = _ITEM_WORDS.get(extra["type"], "values")
            return f"names mapped to {words} (JSON object)", '{"name": …}'
        return "names mapped to values (JSON object)", '{"name": …}'
    return 'any JSON value: a number, "text", [list] or {object}', 'e.g. 5, "text" or [1, 2]'


def _type_hint(widget: Widget, schema: Mapping[str, Any], options: list[tuple[str, str]]) -> str:
    if widget == "select":
        labels = [label for label, value in options if value != ""]
        if len(labels) > MAX_LISTED_OPTIONS:
            return f"one of {len(labels)} choices"
        return "one of " + " / ".join(labels)
    if widget == "checkbox":
        return "tick for yes"
    if widget == "number":
        kind = "whole number" if schema.get("type") == "integer" else "number"
        limits = _range_text(schema)
        return f"{kind} {limits}" if limits else kind
    if widget == "text":
        return "text"
    return ""


def _default_text(widget: Widget, value: Any) -> str:
    if value is None:
        return ""
    if widget == "checkbox":
        return "true" if value else "false"
    if widget == "select":
        return json.dumps(value)
    if widget == "number":
        return _number_text(value)
    if widget == "text":
        return str(value)
    return json.dumps(value)


def _allows_extra(params_schema: Mapping[str, Any], extra: bool | None) -> bool:
    if extra is not None:
        return extra
    additional = params_schema.get("additionalProperties", False)
    return additional is True or isinstance(additional, Mapping)


# --- building fields --------------------------------------------------------------------------


def _build_field(
    name: str, raw: Any, root: Mapping[str, Any], required: bool, info: ParamInfo | None
) -> FormField:
    resolved = _resolve(raw, root)
    core, nullable = _split_null(resolved, root)
    widget = _widget(core, nullable)
    has_default = "default" in resolved or (info is not None and not info.required)
    default_value = resolved.get("default", info.default if info else None)
    options = _options(core, nullable) if widget == "select" else []
    form_field = FormField(
        name=name,
        label=name,
        widget=widget,
        required=required,
        nullable=nullable,
        default=_default_text(widget, default_value) if has_default else "",
        options=options,
        doc=(info.doc if info and info.doc else str(resolved.get("description", ""))).strip(),
        type_hint=_type_hint(widget, core, options),
        schema=core,
        has_default=has_default,
        default_value=default_value,
    )
    if widget == "number":
        low = core.get("minimum", core.get("exclusiveMinimum"))
        high = core.get("maximum", core.get("exclusiveMaximum"))
        form_field.minimum = float(low) if isinstance(low, int | float) else None
        form_field.maximum = float(high) if isinstance(high, int | float) else None
        form_field.step = "1" if core.get("type") == "integer" else "any"
    elif widget == "json":
        form_field.type_hint, form_field.placeholder = _json_description(core, root)
    return form_field


def form_fields(
    params_schema: Mapping[str, Any],
    params: Sequence[ParamInfo] = (),
    *,
    extra: bool | None = None,
) -> list[FormField]:
    """The inputs of a method's form, in signature order (`params`), then any others.

    `extra` says whether the method takes **kwargs; None reads `additionalProperties`.
    """
    properties = params_schema.get("properties", {})
    properties = properties if isinstance(properties, Mapping) else {}
    required_names = set(params_schema.get("required", []) or [])
    infos = {info.name: info for info in params}
    ordered = [info.name for info in params if info.name in properties]
    ordered += [name for name in properties if name not in infos]
    fields = [
        _build_field(
            name,
            properties[name],
            params_schema,
            name in required_names or (name in infos and infos[name].required),
            infos.get(name),
        )
        for name in ordered
    ]
    if _allows_extra(params_schema, extra):
        extra_schema = {
            "type": "object",
            "additionalProperties": params_schema.get("additionalProperties", True),
        }
        hint, _ = _json_description(extra_schema, params_schema)
        fields.append(
            FormField(
                name=EXTRA_FIELD,
                label="extra arguments",
                widget="json",
                required=False,
                nullable=True,
                doc="Further keyword arguments this method accepts, by name.",
                type_hint=hint,
                placeholder='{"name": value}',
                schema=extra_schema,
            )
        )
    return fields


@dataclass(frozen=True)
class FormSpec:
    """What a generated form is made from: a JSON Schema of an object and its parameters."""

    params_schema: Mapping[str, Any]
    params: Sequence[ParamInfo] = ()
    extra: bool = False

    @classmethod
    def of_method(cls, schema: MethodSchema) -> FormSpec:
        return cls(schema.params_schema, schema.params, schema.accepts_extra)

    @classmethod
    def of_property(cls, schema: PropertySchema) -> FormSpec:
        value_schema = {"title": "value", **schema.schema_}
        return cls({"type": "object", "properties": {"value": value_schema}, "required": ["value"]})

    def fields(self) -> list[FormField]:
        return form_fields(self.params_schema, self.params, extra=self.extra)


# --- reading a submitted form -----------------------------------------------------------------


def _values(form: Mapping[str, FormValue], name: str) -> list[str]:
    value = form.get(name)
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _problem(name: str, message: str, kind: str) -> dict[str, str]:
    return {"field": name, "message": message, "type": kind}


def _blank_value(form_field: FormField) -> tuple[bool, Any, dict[str, str] | None]:
    """What a blank field means: (send it?, value, problem)."""
    if form_field.nullable and (
        form_field.required or (form_field.has_default and form_field.default_value is not None)
    ):
        return True, None, None  # blank is the only way to say "none" here
    if not form_field.required:
        return False, None, None  # omitted: the method's default applies
    return False, None, _problem(form_field.name, "required: enter a value", "missing")


def _json_value(form_field: FormField, text: str) -> tuple[Any, dict[str, str] | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        return None, _problem(form_field.name, message, "json_invalid")


def _convert_field(
    form_field: FormField, values: list[str]
) -> tuple[bool, Any, dict[str, str] | None]:
    if form_field.widget == "checkbox":
        return True, "true" in values, None
    raw = values[-1]
    if raw.strip() == "":
        return _blank_value(form_field)
    if form_field.widget == "select":
        for _label, value_json in form_field.options:
            if value_json == raw:
                return True, json.loads(value_json), None
        return False, None, _problem(form_field.name, "choose one of the listed options", "enum")
    if form_field.widget == "number":
        return True, raw.strip(), None  # converted (and range-checked) by the service
    if form_field.widget == "text":
        return True, raw, None
    value, problem = _json_value(form_field, raw)
    return problem is None, value, problem


def form_to_args(
    params_schema: Mapping[str, Any],
    form: Mapping[str, FormValue],
    *,
    extra: bool | None = None,
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The JSON `args` of a call from a submitted form, and per-field problems.

    Fields missing from the form are omitted (their defaults apply). Problems use the API's
    shape `{"field", "message", "type"}`; when there are any, nothing should be called.
    """
    args: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    extra_args: dict[str, Any] = {}
    for form_field in form_fields(params_schema, extra=extra):
        values = _values(form, form_field.name)
        if not values:
            continue
        send, value, problem = _convert_field(form_field, values)
        if problem is not None:
            problems.append(problem)
        elif form_field.name == EXTRA_FIELD:
            if send and value is not None and not isinstance(value, dict):
                problems.append(
                    _problem(EXTRA_FIELD, 'must be a JSON object like {"name": 1}', "dict_type")
                )
            elif isinstance(value, dict):
                extra_args = value
        elif send:
            args[form_field.name] = value
    for name, value in extra_args.items():
        if name in args or name in (params_schema.get("properties") or {}):
            problems.append(
                _problem(EXTRA_FIELD, f"{name!r} has its own field above; set it there", "extra")
            )
        else:
            args[name] = value
    return args, problems
