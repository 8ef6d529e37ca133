"""Introspection: from a loaded deck module to its interface schema and live bindings.

Owns which top-level names become instruments or functions (and why the others are skipped),
which members of an instrument are methods or properties, and how each is described. Reading
a deck must never run driver code (property getters included) and must never crash: a member
that cannot be described is listed as not callable with the reason, an object that cannot be
read at all is skipped with the reason. Instruments mounted from another server with
`labdeck.remote` are described by that server's schema instead (`remote.py`).
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import logging
import site
import sys
import sysconfig
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from labdeck.deck.annotations import NO_HINT, type_name
from labdeck.deck.bindings import (
    BoundCall,
    Deck,
    InstrumentBinding,
    MethodBinding,
    PropertyBinding,
)
from labdeck.deck.convert import build_call_spec, make_value_converter, resolve_hints
from labdeck.deck.docstrings import parse_doc
from labdeck.deck.jsonschema import schema_for
from labdeck.deck.load import deck_name
from labdeck.deck.schema import (
    InstrumentSchema,
    InterfaceSchema,
    MethodSchema,
    PropertySchema,
    ReturnInfo,
    SkippedName,
)
from labdeck.errors import InvalidInput

Origin = Literal["user", "stdlib", "third-party"]

_CONSTANT_TYPES = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    bytearray,
    list,
    tuple,
    dict,
    set,
    frozenset,
    Enum,
)
_LOGGERS = (logging.Logger, logging.LoggerAdapter)
# By type, not inspect.isroutine: that calls isinstance, which asks the object for __class__.
_ROUTINES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodDescriptorType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.ClassMethodDescriptorType,
    functools.partial,
)
_INSTALL_DIRS = frozenset({"site-packages", "dist-packages"})
_MEMBER_DESCRIPTORS = (property, functools.cached_property, staticmethod, classmethod)
_NONE_RETURNS: tuple[Any, ...] = (None, type(None), typing.NoReturn, typing.Never)
_AWAITABLES = (collections.abc.Awaitable, collections.abc.Coroutine)


def introspect_deck(
    module: types.ModuleType,
    *,
    name: str | None = None,
    expose: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> Deck:
    """Describe the deck module and bind its instruments and functions.

    Public instances of user classes and public functions defined in the module are exposed;
    `expose` forces names in (third-party objects, imported functions), `exclude` hides names.
    Raises ValueError only for a wrong `expose`/`exclude`, never for the deck's own content.
    """
    namespace = dict(vars(module))
    forced = set(expose or ())
    hidden = set(exclude or ())
    _check_requested_names(namespace, forced, hidden)
    schema = InterfaceSchema(name=name or deck_name(module))
    deck = Deck(module=module, schema=schema)
    origins = _OriginCache(module)
    for attr, value in namespace.items():
        if attr in hidden:
            schema.skipped.append(SkippedName(name=attr, reason="hidden by exclude"))
            continue
        try:
            reason = _expose(deck, attr, value, origins, forced=attr in forced)
        except Exception as exc:  # whatever the object does, the rest of the deck loads
            reason = f"cannot be introspected ({_error_text(exc)})"
        if reason is not None:
            schema.skipped.append(SkippedName(name=attr, reason=reason))
    deck.schema = schema.with_fingerprint()
    return deck


def _expose(
    deck: Deck, attr: str, value: Any, origins: _OriginCache, *, forced: bool
) -> str | None:
    """Add `value` to the deck as a function or an instrument; else say why not (or None)."""
    kind, reason = _classify(attr, value, deck.module, origins, forced=forced)
    if kind == "function":
        method_schema, binding = _describe_callable(attr, value)
        deck.schema.functions[attr] = method_schema
        deck.functions[attr] = binding
    elif kind == "instrument":
        instrument_schema, instrument = _describe_instrument(attr, value)
        deck.schema.instruments[attr] = instrument_schema
        deck.instruments[attr] = instrument
    elif kind == "remote":
        from labdeck.deck.remote import mount_remote_instrument

        instrument_schema, instrument = mount_remote_instrument(attr, value)
        deck.schema.instruments[attr] = instrument_schema
        deck.instruments[attr] = instrument
    return reason


def _check_requested_names(namespace: dict[str, Any], forced: set[str], hidden: set[str]) -> None:
    missing = sorted(forced - namespace.keys())
    if missing:
        raise ValueError(f"cannot expose {', '.join(map(repr, missing))}: no such top-level name")
    both = sorted(forced & hidden)
    if both:
        raise ValueError(f"{', '.join(map(repr, both))} cannot be both exposed and excluded")
    for attr in sorted(forced):
        problem = _never_exposable(namespace[attr])
        if problem:
            raise ValueError(f"cannot expose {attr!r}: {problem}")


# --- which top-level names are exposed -------------------------------------------------------


def _classify(
    attr: str, value: Any, module: types.ModuleType, origins: _OriginCache, *, forced: bool
) -> tuple[str, str | None]:
    """("function" | "instrument" | "remote" | "skip", reason shown to the integrator or None)."""
    # Remote instruments are described by their server's schema, never by Python. Only a deck
    # that imported `labdeck.remote` can hold them (and only then is httpx worth importing).
    remote = sys.modules.get("labdeck.deck.remote")
    if remote is not None and _is_a(value, remote.RemoteInstrument):
        return ("remote", None) if forced or not attr.startswith("_") else ("skip", None)
    if remote is not None and _is_a(value, remote.RemoteLab):
        return "skip", None if attr.startswith("_") else remote.remote_lab_note(value)
    if forced:
        return ("function" if _is_function(value) else "instrument"), None
    if attr.startswith("_") or _never_exposable(value) or _is_a(value, _LOGGERS):
        return "skip", None
    how_to = f"pass expose=[{attr!r}] (or --expose {attr}) to expose it"
    if _is_function(value):
        defined_in = getattr(_unwrap_partial(value), "__module__", None)
        if defined_in == module.__name__:
            return "function", None
        return "skip", f"function imported from {defined_in or 'another module'}: {how_to}"
    cls = type(value)
    origin = origins.of(cls)
    if origin == "user":
        return "instrument", None
    if origin == "third-party":
        return "skip", f"{_qualified(cls)} is a third-party object: {how_to}"
    return "skip", None  # locks, queues, paths: nobody expects those as instruments


def _never_exposable(value: Any) -> str | None:
    if _is_a(value, types.ModuleType):
        return "it is a module"
    if _is_a(value, type):
        return "it is a class; expose an instance of it"
    if _is_a(value, _CONSTANT_TYPES):
        return f"it is a constant of type {type(value).__name__}"
    if type(value).__module__ in {"typing", "typing_extensions"} or _is_a(
        value, types.GenericAlias | types.UnionType
    ):
        return "it is a typing construct"
    return None


def _is_a(value: Any, kinds: Any) -> bool:
    # type() rather than isinstance: proxies may lie about __class__.
    return issubclass(type(value), kinds)


def _is_function(value: Any) -> bool:
    return _is_a(value, _ROUTINES)


def _unwrap_partial(func: Any) -> Any:
    while _is_a(func, functools.partial):
        func = func.func
    return func


class _OriginCache:
    """Where a class comes from: the user's code, the standard library or a third party."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module_name = module.__name__
        self.package = module.__name__.split(".")[0] if module.__package__ else None
        file = getattr(module, "__file__", None)
        self.folder = Path(file).resolve().parent if file else None
        self.known: dict[str, Origin] = {}

    def of(self, cls: type) -> Origin:
        module_name = str(getattr(cls, "__module__", "") or "")
        if module_name not in self.known:
            self.known[module_name] = self._origin(module_name)
        return self.known[module_name]

    def _origin(self, module_name: str) -> Origin:
        if module_name == self.module_name:
            return "user"
        top = module_name.split(".", maxsplit=1)[0]
        if self.package and top == self.package:
            return "user"
        if top in sys.stdlib_module_names:
            return "stdlib"
        file = getattr(sys.modules.get(module_name), "__file__", None)
        if not file:
            return "third-party"  # no file to judge by: the integrator can still expose it
        path = Path(file).resolve()
        if self.folder is not None and path.is_relative_to(self.folder):
            inside = path.relative_to(self.folder).parts
            if not _INSTALL_DIRS.intersection(inside):
                return "user"  # a sibling driver module next to the deck
        if _INSTALL_DIRS.intersection(path.parts) or _under(path, _install_roots()):
            return "third-party"
        if _under(path, _stdlib_roots()):
            return "stdlib"
        return "user"


@functools.cache
def _install_roots() -> tuple[Path, ...]:
    roots = [*site.getsitepackages(), site.getusersitepackages()]
    roots += [sysconfig.get_paths()[key] for key in ("purelib", "platlib")]
    return tuple(Path(root).resolve() for root in roots if root)


@functools.cache
def _stdlib_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple(Path(paths[key]).resolve() for key in ("stdlib", "platstdlib") if key in paths)


def _under(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


# --- instruments ----------------------------------------------------------------------------


def _describe_instrument(attr: str, obj: Any) -> tuple[InstrumentSchema, InstrumentBinding]:
    cls = type(obj)
    binding = InstrumentBinding(name=attr, obj=obj)
    schema = InstrumentSchema(class_=_qualified(cls), doc=parse_doc(cls).text)
    for member, raw, owner in _class_members(cls):
        target = f"{attr}.{member}"
        try:
            if _is_a(raw, property | functools.cached_property):
                prop_schema, prop_binding = _describe_property(target, obj, member, raw, owner)
                schema.properties[member] = prop_schema
                binding.properties[member] = prop_binding
                continue
            func = _bind(raw, obj, cls)
            if func is None:
                continue
            method_schema, method_binding = _describe_callable(target, func, owner)
        except Exception as exc:
            method_schema, method_binding = _broken(target, raw, exc)
        schema.methods[member] = method_schema
        binding.methods[member] = method_binding
    return schema, binding


def _class_members(cls: type) -> list[tuple[str, Any, type]]:
    """Public methods and properties of `cls`, as `inspect.getattr_static` finds them.

    Read from the class dictionaries along the MRO, so no descriptor (property getter,
    `__getattr__`, `__dir__`) of the instance runs. Nested classes and anything defined on
    builtins such as `object` are left out; the most derived definition of a name wins.
    """
    seen: set[str] = set()
    found = []
    for owner in cls.__mro__:
        if owner.__module__ == "builtins":
            continue
        for member, raw in list(vars(owner).items()):
            if member in seen:
                continue
            seen.add(member)
            if member.startswith("_") or _is_a(raw, type):
                continue
            if callable(raw) or _is_a(raw, _MEMBER_DESCRIPTORS):
                found.append((member, raw, owner))
    return found


def _bind(raw: Any, obj: Any, cls: type) -> Callable[..., Any] | None:
    """The member as `getattr(obj, name)` would return it, without instance lookups."""
    if _is_a(raw, staticmethod):
        return raw.__func__  # type: ignore[no-any-return]
    if _is_a(raw, classmethod):
        return types.MethodType(raw.__func__, cls)
    if inspect.isfunction(raw):
        return types.MethodType(raw, obj)
    if hasattr(type(raw), "__get__"):
        bound = raw.__get__(obj, cls)
        return bound if callable(bound) else None
    return raw if callable(raw) else None


def _describe_property(
    target: str, obj: Any, name: str, raw: Any, owner: type
) -> tuple[PropertySchema, PropertyBinding]:
    if _is_a(raw, functools.cached_property):
        getter, setter = raw.func, None
    else:
        getter, setter = raw.fget, raw.fset
    localns = dict(vars(owner))
    annotation = resolve_hints(getter, localns=localns).returns if getter else NO_HINT
    value_annotation = _setter_annotation(setter, localns) if setter else NO_HINT
    if value_annotation is NO_HINT:
        value_annotation = annotation
    doc = parse_doc(raw).text
    converter = None
    if setter is not None:
        converter = make_value_converter(
            Any if value_annotation is NO_HINT else value_annotation, target=target
        )
        if converter is None:
            note = f"Cannot be set from JSON: type {type_name(value_annotation)}."
            doc = f"{doc}\n\n{note}" if doc else note
    shown = annotation if annotation is not NO_HINT else value_annotation
    schema = PropertySchema(
        doc=doc, settable=converter is not None, schema_=schema_for(shown) or {}
    )
    binding = PropertyBinding(
        target=target, schema=schema, owner=obj, name=name, value_converter=converter
    )
    return schema, binding


def _setter_annotation(setter: Callable[..., Any], localns: dict[str, Any]) -> Any:
    parameters = list(inspect.signature(setter).parameters)
    if len(parameters) < 2:
        return NO_HINT
    return resolve_hints(setter, localns=localns).params.get(parameters[1], NO_HINT)


# --- methods and functions ------------------------------------------------------------------


def _describe_callable(
    target: str, func: Callable[..., Any], owner: type | None = None
) -> tuple[MethodSchema, MethodBinding]:
    doc = parse_doc(func)
    localns = dict(vars(owner)) if owner is not None else None
    spec = build_call_spec(func, target=target, localns=localns, param_docs=doc.params)
    is_async = is_async_callable(func)
    schema = MethodSchema(
        doc=doc.text,
        params_schema=spec.params_schema,
        params=spec.params,
        accepts_extra=spec.accepts_extra,
        returns=describe_return(spec.returns_hint),
        async_=is_async,
        callable=spec.callable,
        reason=spec.reason,
    )
    binding = MethodBinding(
        target=target, schema=schema, func=func, is_async=is_async, converter=spec.converter
    )
    return schema, binding


def _broken(target: str, raw: Any, exc: Exception) -> tuple[MethodSchema, MethodBinding]:
    reason = f"cannot be introspected ({_error_text(exc)})"
    schema = MethodSchema(callable=False, reason=reason)

    def refuse(raw_args: Mapping[str, Any]) -> BoundCall:
        raise InvalidInput(f"{target} cannot be called: {reason}", code="NOT_CALLABLE")

    func = raw if callable(raw) else refuse
    binding = MethodBinding(
        target=target, schema=schema, func=func, is_async=False, converter=refuse
    )
    return schema, binding


def is_async_callable(func: Any) -> bool:
    """True for coroutine functions, also behind functools.wraps, partial or a bound method."""
    func = _unwrap_partial(func)
    func = getattr(func, "__func__", func)
    if inspect.iscoroutinefunction(func):
        return True
    try:
        unwrapped = inspect.unwrap(func)
    except ValueError:  # a __wrapped__ cycle
        return False
    return inspect.iscoroutinefunction(getattr(unwrapped, "__func__", unwrapped))


def describe_return(hint: Any) -> ReturnInfo:
    """Shape of a return annotation: none, scalar, tuple (with arity), dict or any."""
    if hint is NO_HINT or hint is Any:
        return ReturnInfo(kind="any")
    base = _strip_annotated(hint)
    if get_origin(base) in _AWAITABLES and get_args(base):
        base = hint = _strip_annotated(get_args(base)[-1])
    schema = schema_for(hint) or {}
    if any(base is none for none in _NONE_RETURNS):
        return ReturnInfo(kind="none", schema_=schema)
    origin = get_origin(base)
    if base is tuple or base is typing.Tuple:  # noqa: UP006 - the bare alias, as written
        return ReturnInfo(kind="tuple", schema_=schema)
    if origin is tuple:
        args = get_args(base)
        if len(args) == 2 and args[1] is Ellipsis:
            return ReturnInfo(kind="tuple", arity=None, schema_=schema)
        arity = 0 if args in ((), ((),)) else len(args)
        return ReturnInfo(kind="tuple", arity=arity, schema_=schema)
    mapping = origin if origin is not None else base
    if typing.is_typeddict(base) or (
        isinstance(mapping, type) and issubclass(mapping, collections.abc.Mapping)
    ):
        return ReturnInfo(kind="dict", schema_=schema)
    return ReturnInfo(kind="scalar", schema_=schema)


def _strip_annotated(hint: Any) -> Any:
    while get_origin(hint) is typing.Annotated:
        hint = get_args(hint)[0]
    return hint


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
