"""Arguments of remote instruments, checked against the JSON Schemas their server published.

This server has no Python types for a remote method, only the `params_schema` the remote
server built from its own. So arguments are not converted here: they are sent as given and
the remote server converts and validates them with its pydantic model (the authority; its
422 becomes a failed call with its field problems). Before that, a light check refuses here,
with the same per-field 422 a local method gives, what surely does not fit: unknown and
missing arguments, and values the schema rejects. Values are judged by `literal_errors`,
the checker workflow validation uses for literal arguments, so a direct call and a workflow
accept the same values; when in doubt it accepts, and the remote server decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from labdeck.deck.bindings import BoundCall
from labdeck.deck.jsonsafe import to_jsonable
from labdeck.deck.schema import MethodSchema, PropertySchema
from labdeck.errors import InvalidInput
from labdeck.workflow.validate_values import literal_errors


class RemoteArgsCheck:
    """The converter of a remote method's binding: JSON `args` in, the same JSON out."""

    def __init__(self, target: str, schema: MethodSchema) -> None:
        self.target = target
        params_schema = schema.params_schema
        self.properties: dict[str, Any] = params_schema.get("properties") or {}
        self.required: list[str] = list(params_schema.get("required") or ())
        self.defs: dict[str, Any] = params_schema.get("$defs") or {}
        extra = params_schema.get("additionalProperties", False)
        self.extra: Any = extra if schema.accepts_extra else False

    def __call__(self, raw_args: object) -> BoundCall:
        if not isinstance(raw_args, Mapping):
            problem = f"arguments must be a JSON object, not {type(raw_args).__name__}"
            raise InvalidInput(
                f"invalid arguments for {self.target}",
                fields=[{"field": "", "message": problem, "type": "model_type"}],
            )
        args = to_jsonable(dict(raw_args))
        fields = [
            {"field": name, "message": "Field required", "type": "missing"}
            for name in self.required
            if name not in args
        ]
        for name, value in args.items():
            schema = self.properties.get(name, self.extra)
            if schema is False:
                fields.append(
                    {
                        "field": name,
                        "message": "Extra inputs are not permitted",
                        "type": "extra_forbidden",
                    }
                )
                continue
            fields.extend(
                {"field": name, "message": message, "type": "value_error"}
                for message in literal_errors(value, schema, self.defs)
            )
        if fields:
            raise InvalidInput(f"invalid arguments for {self.target}", fields=fields)
        return BoundCall(args=(), kwargs=args, recorded=args)


def value_check(target: str, schema: PropertySchema) -> Callable[[Any], Any] | None:
    """The value converter of a remote property's binding (None when it is read-only)."""
    if not schema.settable:
        return None
    value_schema = schema.schema_
    defs = value_schema.get("$defs") or {}

    def check(value: Any) -> Any:
        value = to_jsonable(value)
        problems = literal_errors(value, value_schema, defs)
        if problems:
            fields = [
                {"field": "value", "message": message, "type": "value_error"}
                for message in problems
            ]
            raise InvalidInput(f"invalid value for {target}", fields=fields)
        return value

    return check
