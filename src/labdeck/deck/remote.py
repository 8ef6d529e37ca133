"""Remote instruments: another labdeck server's instruments mounted into this deck.

`remote(url, token, instruments=[...])` fetches that server's interface schema once (its
`GET /api/deck`, when the deck module is imported) and returns a `RemoteLab`. An instrument
of it is mounted where the deck module assigns it to a public top-level name, under that name:

    import os

    from labdeck import remote

    lab_b = remote("http://127.0.0.1:8001", os.environ["LAB_B_TOKEN"], ["spectrometer"])
    spectrometer_b = lab_b.spectrometer  # or lab_b["spectrometer"]

Introspection describes a mounted instrument with the remote schema, not with Python (its
methods' argument JSON Schemas with their Enums, Literals and bounds, docs, returns and
properties), so the Devices page, workflow validation and the Python export see the remote
types. Arguments are checked lightly here and converted by the remote server
(`remote_schema.py`). A call is a blocking `POST {url}/api/instruments/{name}/{method}`, made
like a local sync method: on this deck's thread, under this deck's lock. The remote server
stays the serialization point for its hardware; how its answers become values or
`RemoteCallError`s (busy retries, `provider_status`, `CONNECTION`) is in `remote_http.py`.

Deck code can call a mounted instrument as a Python object too: `spectrometer_b.measure(450)`
returns the output, `spectrometer_b.mode` reads a property and `spectrometer_b.mode = "x"`
sets it, each one request; failures raise `RemoteCallError` (a `RemoteInstrumentError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from labdeck.deck.bindings import InstrumentBinding, MethodBinding, PropertyBinding
from labdeck.deck.jsonsafe import to_jsonable
from labdeck.deck.remote_http import RemoteCallError, RemoteMountError, RemoteServer
from labdeck.deck.remote_schema import RemoteArgsCheck, value_check
from labdeck.deck.schema import InstrumentSchema, MethodSchema

__all__ = [
    "RemoteCallError",
    "RemoteInstrument",
    "RemoteLab",
    "RemoteMountError",
    "mount_remote_instrument",
    "remote",
    "remote_lab_note",
]


def remote(
    url: str,
    token: str,
    instruments: Sequence[str] | None = None,
    *,
    busy_timeout_s: float = 30.0,
    timeout_s: float | None = 600.0,
    connect_timeout_s: float = 5.0,
    transport: httpx.BaseTransport | None = None,
) -> RemoteLab:
    """Mount instruments served by the labdeck server at `url` (see the module docstring).

    `token` is an API token of a user allowed to call instruments there (operator or admin).
    `instruments` names the ones to mount (all of them when None). `busy_timeout_s` is how
    long a call keeps retrying while that server is busy; `timeout_s` is the longest a call
    may take there before it fails with `CONNECTION` (None: no limit); `connect_timeout_s`
    bounds connecting. `transport` replaces httpx's default (custom TLS, tests).

    Raises `RemoteMountError` when the server does not answer, refuses the token or lacks a
    named instrument: the deck does not load with instruments missing.
    """
    if not token:
        raise RemoteMountError(
            f"cannot mount instruments from {url}: no token given (an API token of that server)"
        )
    if isinstance(instruments, str):
        raise TypeError(f"instruments must be a list of names, e.g. [{instruments!r}]")
    if busy_timeout_s < 0:
        raise ValueError("busy_timeout_s cannot be negative")
    server = RemoteServer(
        url,
        token,
        timeout_s=timeout_s,
        connect_timeout_s=connect_timeout_s,
        busy_timeout_s=busy_timeout_s,
        transport=transport,
    )
    try:
        schema = server.fetch_schema()
        available = schema.instruments
        names = list(available) if instruments is None else list(instruments)
        missing = [name for name in names if name not in available]
        if missing:
            raise RemoteMountError(
                f"the labdeck server at {server.url} (deck {schema.name!r}) has no instrument "
                f"{', '.join(map(repr, missing))}; it has: {', '.join(available) or 'none'}"
            )
    except BaseException:
        server.close()
        raise
    mounted = {name: RemoteInstrument(server, name, available[name]) for name in names}
    return RemoteLab(server, schema.name, mounted)


class RemoteLab:
    """The mounted instruments of one remote labdeck server, by their name there.

    `lab.name` or `lab["name"]` is a `RemoteInstrument`; `instruments` maps all of them.
    `close()` closes the connection (at interpreter exit otherwise).
    """

    def __init__(
        self, server: RemoteServer, deck_name: str, instruments: dict[str, RemoteInstrument]
    ) -> None:
        self._server = server
        self.url = server.url
        self.deck_name = deck_name
        self.instruments = instruments

    def __getattr__(self, name: str) -> RemoteInstrument:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> RemoteInstrument:
        found = self.instruments.get(name)
        if found is None:
            mounted = ", ".join(self.instruments) or "none"
            raise AttributeError(
                f"no instrument {name!r} mounted from {self.url} (mounted: {mounted}); "
                "name it in remote(..., instruments=[...])"
            )
        return found

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.instruments})

    def __repr__(self) -> str:
        return f"<RemoteLab {self.url} deck={self.deck_name!r} {list(self.instruments)}>"

    def close(self) -> None:
        self._server.close()


class RemoteInstrument:
    """An instrument of a remote labdeck server; attribute access mirrors its schema.

    It has no public attributes of its own, so every public name is the remote one: a
    method gives a `RemoteMethod`, a property is read or set with one request.
    """

    def __init__(self, server: RemoteServer, name: str, schema: InstrumentSchema) -> None:
        object.__setattr__(self, "_server", server)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_schema", schema)

    def __getattr__(self, member: str) -> Any:
        if member.startswith("_"):  # also while unpickling or copying, before __init__
            raise AttributeError(member)
        schema: InstrumentSchema = self._schema
        if member in schema.methods:
            return RemoteMethod(self._server, self._name, member, schema.methods[member])
        if member in schema.properties:
            return self._server.call(
                "GET", self._property_path(member), None, f"{self._name}.{member}"
            )
        raise AttributeError(
            f"remote instrument {self._name!r} at {self._server.url} has no member {member!r}"
        )

    def __setattr__(self, member: str, value: Any) -> None:
        prop = self._schema.properties.get(member)
        if prop is None or not prop.settable:
            raise AttributeError(
                f"{member!r} is not a settable property of remote instrument {self._name!r}"
            )
        self._server.call(
            "PUT",
            self._property_path(member),
            {"value": to_jsonable(value)},
            f"{self._name}.{member}",
        )

    def __dir__(self) -> list[str]:
        return sorted({*self._schema.methods, *self._schema.properties})

    def __repr__(self) -> str:
        return f"<RemoteInstrument {self._name!r} at {self._server.url}>"

    def _property_path(self, member: str) -> str:
        return f"/api/instruments/{self._name}/properties/{member}"


@dataclass(frozen=True)
class RemoteMethod:
    """A method of a remote instrument; calling it runs it there and returns the output."""

    server: RemoteServer
    instrument: str
    name: str
    schema: MethodSchema

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.server.call(
            "POST",
            f"/api/instruments/{self.instrument}/{self.name}",
            {"args": to_jsonable(self._by_name(args, kwargs))},
            f"{self.instrument}.{self.name}",
        )

    def _by_name(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Positional arguments by parameter name: the remote server takes only names."""
        positional = [p.name for p in self.schema.params if p.kind != "keyword_only"]
        if len(args) > len(positional):
            raise TypeError(
                f"{self.instrument}.{self.name} takes {len(positional)} positional "
                f"arguments but {len(args)} were given"
            )
        named = dict(zip(positional, args, strict=False))
        twice = sorted(named.keys() & kwargs.keys())
        if twice:
            raise TypeError(
                f"{self.instrument}.{self.name} got multiple values for {', '.join(twice)}"
            )
        return {**named, **kwargs}


def remote_lab_note(lab: RemoteLab) -> str:
    """Why introspection skips a `RemoteLab` itself (printed at start)."""
    return (
        f"the labdeck server at {lab.url}: its instruments are mounted where they are "
        "assigned to top-level names (name = lab.instrument)"
    )


def mount_remote_instrument(
    attr: str, instrument: RemoteInstrument
) -> tuple[InstrumentSchema, InstrumentBinding]:
    """The schema and bindings of a remote instrument exposed as `attr` on this deck.

    The remote schema is kept as published, except that every method is sync here: it is a
    blocking request on this deck's thread, whatever it is on the remote server.
    """
    server: RemoteServer = object.__getattribute__(instrument, "_server")
    name: str = object.__getattribute__(instrument, "_name")
    remote_schema: InstrumentSchema = object.__getattribute__(instrument, "_schema")
    schema = remote_schema.model_copy(deep=True)
    binding = InstrumentBinding(name=attr, obj=instrument)
    for member, method in schema.methods.items():
        method.async_ = False
        target = f"{attr}.{member}"
        binding.methods[member] = MethodBinding(
            target=target,
            schema=method,
            func=RemoteMethod(server, name, member, method),
            is_async=False,
            converter=RemoteArgsCheck(target, method),
        )
    for member, prop in schema.properties.items():
        target = f"{attr}.{member}"
        binding.properties[member] = PropertyBinding(
            target=target,
            schema=prop,
            owner=instrument,
            name=member,
            value_converter=value_check(target, prop),
        )
    return schema, binding
