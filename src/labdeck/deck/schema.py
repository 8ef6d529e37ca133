"""The interface schema: the JSON description of a deck served by `GET /api/deck`.

These models are the contract between introspection (which builds them), the API (which
serves them), the Devices page (which renders forms from them) and, later, workflow validation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReturnKind = Literal["none", "scalar", "tuple", "dict", "any"]


class ParamInfo(BaseModel):
    """One parameter of a method, in signature order."""

    name: str
    doc: str = ""
    required: bool
    default: Any = None
    kind: Literal["positional_only", "positional_or_keyword", "keyword_only"] = (
        "positional_or_keyword"
    )


class ReturnInfo(BaseModel):
    kind: ReturnKind
    arity: int | None = Field(
        default=None, description="Number of items for a fixed-length tuple return."
    )
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class MethodSchema(BaseModel):
    """A callable member of an instrument, or a deck function."""

    doc: str = Field(default="", description="Summary line, then the long description.")
    params_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the `args` object.",
    )
    params: list[ParamInfo] = Field(default_factory=list)
    accepts_extra: bool = Field(
        default=False, description="True when the method takes **kwargs: extra args are passed."
    )
    returns: ReturnInfo = Field(default_factory=lambda: ReturnInfo(kind="any"))
    async_: bool = Field(default=False, alias="async")
    callable: bool = True
    reason: str | None = Field(
        default=None, description="Why the method cannot be called from JSON, when not callable."
    )

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class PropertySchema(BaseModel):
    doc: str = ""
    settable: bool = False
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class InstrumentSchema(BaseModel):
    class_: str = Field(alias="class", description="Qualified class name of the instrument.")
    doc: str = ""
    methods: dict[str, MethodSchema] = Field(default_factory=dict)
    properties: dict[str, PropertySchema] = Field(default_factory=dict)

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class SkippedName(BaseModel):
    """A top-level name of the deck module that is not exposed, and why (shown to integrators)."""

    name: str
    reason: str


class InterfaceSchema(BaseModel):
    name: str
    fingerprint: str = ""
    instruments: dict[str, InstrumentSchema] = Field(default_factory=dict)
    functions: dict[str, MethodSchema] = Field(default_factory=dict)
    skipped: list[SkippedName] = Field(default_factory=list)

    def with_fingerprint(self) -> InterfaceSchema:
        """Return a copy whose fingerprint is the hash of everything that affects calls."""
        content = self.model_dump(mode="json", exclude={"fingerprint", "skipped"})
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
        return self.model_copy(update={"fingerprint": digest})
