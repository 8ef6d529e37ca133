"""Run modes: what drives a run's iterations, and parameter tables turned into typed samples.

Owns:
- `Sample` / `Iteration`, the unit the runner executes (one iteration of `script` processes
  `batch_size` samples);
- `IterationSource`, the protocol the runner pulls iterations from, with `RepeatSource` and
  `TableSource` (an optimization campaign will implement it too, using `report`);
- `parse_csv` / `convert_table` / `csv_template`: a parameter table as people write it (CSV text
  or JSON rows) checked against the parameters' JSON Schemas and converted to the values the
  drivers get, every problem of every row reported at once with the row number people count;
- `build_source`, the `mode` body of `POST /api/runs` turned into a source.

A parameter "has a default" when its default is not null: stored documents drop null defaults
(`exclude_defaults`), so a null default cannot be told apart from none.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from labdeck.deck.jsonsafe import JSON_NUMBER, json_number
from labdeck.errors import InvalidInput
from labdeck.workflow.model import Parameter, WorkflowDocument
from labdeck.workflow.validate_values import (
    NO_VALUE,
    json_equal,
    lax_convert,
    literal_errors,
    same_kind,
)

MAX_LISTED_PROBLEMS = 100


@dataclass(frozen=True)
class Sample:
    index: int  # 0-based within the run
    params: dict[str, Any]


@dataclass(frozen=True)
class Iteration:
    number: int  # 1-based
    samples: tuple[Sample, ...]


class IterationSource(Protocol):
    """Where a run's iterations come from. `total` is None when unknown (a campaign)."""

    total: int | None

    def next_iteration(self) -> Iteration | None:
        """The next iteration, or None when the run has no more."""
        ...

    def report(self, iteration: Iteration, outputs: list[dict[str, Any]]) -> None:
        """The outputs of a finished iteration, one dict per sample (an optimizer learns here)."""
        ...

    def stop(self) -> None:
        """Stop pending: no iteration after the current one."""
        ...


class _BatchedSource:
    """Samples from `_sample(i)`, grouped `batch_size` at a time; the last group may be smaller."""

    def __init__(self, count: int, batch_size: int) -> None:
        if count < 0 or batch_size < 1:
            raise ValueError("count must be >= 0 and batch_size >= 1")
        self._count = count
        self._batch_size = batch_size
        self._next_index = 0
        self._stopped = False
        self.total: int | None = -(-count // batch_size)

    def _sample(self, index: int) -> dict[str, Any]:
        raise NotImplementedError

    def next_iteration(self) -> Iteration | None:
        if self._stopped or self._next_index >= self._count:
            return None
        first = self._next_index
        last = min(first + self._batch_size, self._count)
        self._next_index = last
        samples = tuple(Sample(index=i, params=self._sample(i)) for i in range(first, last))
        return Iteration(number=first // self._batch_size + 1, samples=samples)

    def report(self, iteration: Iteration, outputs: list[dict[str, Any]]) -> None:
        """Repeat and table runs are planned in advance: outputs change nothing."""

    def stop(self) -> None:
        # A plain flag: the API thread sets it, the runner reads it between iterations.
        self._stopped = True


class RepeatSource(_BatchedSource):
    """`count` samples, each with the parameters' defaults."""

    def __init__(self, count: int, defaults: dict[str, Any], batch_size: int = 1) -> None:
        super().__init__(count, batch_size)
        self._defaults = dict(defaults)

    def _sample(self, index: int) -> dict[str, Any]:
        # A copy per sample: a driver mutating a list default must not change later samples.
        return copy.deepcopy(self._defaults)


class TableSource(_BatchedSource):
    """One sample per row of an already converted table (see `convert_table`)."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], batch_size: int = 1) -> None:
        super().__init__(len(rows), batch_size)
        self._rows = [dict(row) for row in rows]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The converted rows (stored with the run, so it uses exactly what was checked)."""
        return copy.deepcopy(self._rows)

    def _sample(self, index: int) -> dict[str, Any]:
        return copy.deepcopy(self._rows[index])


# --- converting tables ---------------------------------------------------------------------------


def has_default(parameter: Parameter) -> bool:
    return parameter.default is not None


def convert_value(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` (CSV text or JSON) converted to what `schema` asks for; `ValueError` if it can't.

    Follows pydantic's lax rules (via `validate_values`) plus what CSV cells need: an Enum
    member by name, arrays and objects as JSON text. A string schema keeps the exact string.
    """
    defs = schema.get("$defs")
    return _coerce(value, dict(schema), defs if isinstance(defs, dict) else {}, 0)


def _coerce(value: Any, schema: Any, defs: dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict) or not schema or depth > 50:
        # The type is unknown (`{}`): a CSV cell that is plainly a number is meant as one.
        if isinstance(value, str) and JSON_NUMBER.fullmatch(value.strip()):
            return json_number(value.strip())
        return value
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"))
        if isinstance(target, dict):
            merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            return _coerce(value, merged, defs, depth + 1)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            # pydantic's smart unions: a branch of the value's own JSON kind wins ("5" stays
            # text for `int | str`), then the branches in order.
            ordered = sorted(
                branches, key=lambda b: not (isinstance(b, dict) and same_kind(value, b))
            )
            for branch in ordered:
                try:
                    return _coerce(value, branch, defs, depth + 1)
                except ValueError:
                    continue
            raise ValueError(_first_error(value, schema, defs))
    if isinstance(schema.get("enum"), list):
        return _enum_value(value, schema, defs)
    if "const" in schema:
        return _enum_value(value, {**schema, "enum": [schema["const"]]}, defs)
    types = schema.get("type")
    if types is None:
        return value
    for json_type in types if isinstance(types, list) else [types]:
        candidate = value
        if json_type in ("array", "object") and isinstance(value, str):
            try:
                candidate = json.loads(value)
            except ValueError:
                continue
        converted = lax_convert(candidate, json_type)
        if converted is NO_VALUE:
            continue
        if isinstance(converted, float) and not math.isfinite(converted):
            raise ValueError(f"must be a finite number, not {value!r}")
        errors = literal_errors(converted, schema, defs)
        if errors:
            raise ValueError(errors[0])
        if isinstance(converted, list | tuple):
            # Items too, so a results table shows `[1, 2]` for "[1, \"2\"]" as drivers get it.
            items = schema.get("items")
            if isinstance(items, dict) and items and "prefixItems" not in schema:
                return [_coerce(item, items, defs, depth + 1) for item in converted]
            return list(converted)
        return converted
    raise ValueError(_first_error(value, schema, defs))


def _enum_value(value: Any, schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    choices: list[Any] = schema["enum"]
    for choice in choices:
        if json_equal(choice, value):
            return choice
    names = schema.get("x-enum-names")
    if isinstance(names, list) and len(names) == len(choices) and value in names:
        return choices[names.index(value)]
    if isinstance(value, str):
        number = json_number(value.strip())
        numeric = [c for c in choices if number is not None and json_equal(c, number)]
        if len(numeric) == 1:
            return numeric[0]
    raise ValueError(_first_error(value, schema, defs))


def _first_error(value: Any, schema: dict[str, Any], defs: dict[str, Any]) -> str:
    errors = literal_errors(value, schema, defs)
    return errors[0] if errors else f"{json.dumps(value)} does not fit this parameter"


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _allows_null(schema: Mapping[str, Any]) -> bool:
    # An unknown type (`{}`) does not count: a parameter without a default must be given.
    return _typed(schema) and not literal_errors(None, dict(schema), schema.get("$defs"))


def _takes_text(schema: Mapping[str, Any]) -> bool:
    return _typed(schema) and not literal_errors(" ", dict(schema), schema.get("$defs"))


def _typed(schema: Mapping[str, Any]) -> bool:
    return any(key in schema for key in ("type", "anyOf", "oneOf", "enum", "const", "$ref"))


def default_value(parameter: Parameter, schema: Mapping[str, Any]) -> Any:
    # An enum default written by name becomes its value; a default that does not convert is
    # left for workflow validation to report, not refused here.
    try:
        return convert_value(copy.deepcopy(parameter.default), schema)
    except ValueError:
        return copy.deepcopy(parameter.default)


def convert_table(
    rows: Sequence[Mapping[str, Any]],
    parameters: list[Parameter],
    schemas: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Each row as `{parameter: value}`; one `InvalidInput` listing every row's problems.

    A blank cell means "not given": the default, else null when the parameter takes null,
    else a problem. Rows are numbered from 1 as people count them (`rows[3].amount_mg`).
    """
    known = {p.name for p in parameters}
    problems: list[dict[str, Any]] = []
    reported_columns: set[str] = set()
    converted: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        for column in [c for c in row if c not in known and c not in reported_columns]:
            reported_columns.add(column)
            listed = ", ".join(sorted(known)) or "none"
            message = f"unknown column {column!r}: the workflow's parameters are {listed}"
            problems.append(_problem(f"rows[{number}].{column}", message, "unknown_column"))
        values: dict[str, Any] = {}
        for parameter in parameters:
            name, schema = parameter.name, schemas.get(parameter.name, {})
            raw = row.get(name)
            # A string parameter keeps any text it is given, even spaces; only "" is blank.
            blank = raw is None or raw == "" or (_is_blank(raw) and not _takes_text(schema))
            if blank:
                if has_default(parameter):
                    values[name] = default_value(parameter, schema)
                elif _allows_null(schema):
                    values[name] = None
                else:
                    message = f"row {number} has no value for {name}"
                    problems.append(_problem(f"rows[{number}].{name}", message, "missing"))
                continue
            try:
                values[name] = convert_value(raw, schema)
            except ValueError as bad:
                problems.append(
                    _problem(f"rows[{number}].{name}", f"row {number}, {name}: {bad}", "invalid")
                )
        converted.append(values)
    if problems:
        raise _table_error("the parameter table", problems)
    return converted


def _problem(field: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": field, "message": message, "type": kind}


def _table_error(what: str, problems: list[dict[str, Any]]) -> InvalidInput:
    count = len(problems)
    listed = problems[:MAX_LISTED_PROBLEMS]
    if count > MAX_LISTED_PROBLEMS:
        hidden = count - MAX_LISTED_PROBLEMS
        listed.append(_problem("rows", f"and {hidden} more", "too_many_problems"))
    plural = "problem" if count == 1 else "problems"
    return InvalidInput(f"{what} has {count} {plural}", fields=listed)


# --- CSV ------------------------------------------------------------------------------------


def parse_csv(text: str) -> list[dict[str, str]]:
    """A header row then data rows, as dicts of text; `;`, tab or `,` delimited.

    Data rows are numbered from 1 (blank lines skipped) like `convert_table` numbers them, so
    "row 3" means the same row in both; the file's line is named too.
    """
    text = text.removeprefix("\ufeff")
    lines = _records(text)
    if not lines:
        raise InvalidInput(
            "the CSV file is empty: it needs a header row with the parameter names",
            fields=[_problem("header", "no header row", "csv")],
        )
    (_, header), data = lines[0], lines[1:]
    header = [cell.strip() for cell in header]
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            problems.append(_problem("header", f"column {position} has no name", "csv"))
        elif name in seen:
            problems.append(_problem("header", f"column {name!r} appears twice", "csv"))
        seen.add(name)
    rows: list[dict[str, str]] = []
    for number, (line, cells) in enumerate(data, start=1):
        if len(cells) > len(header):
            problems.append(
                _problem(
                    f"rows[{number}]",
                    f"row {number} (line {line}) has {len(cells)} cells"
                    f" but the header has {len(header)}",
                    "csv",
                )
            )
            continue
        # A short row leaves its last cells blank, as spreadsheets write them.
        rows.append({name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header)})
    if problems:
        raise _table_error("the CSV file", problems)
    return rows


def _records(text: str) -> list[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on."""
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    try:
        # Sniff the header only: it holds names, so the one candidate character it contains is
        # the delimiter, where data cells ("1,5" in a `;` file) could mislead.
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as error:
        message = f"line {reader.line_num}: {error}"
        raise InvalidInput(
            f"the CSV file cannot be read: {message}", fields=[_problem("csv", message, "csv")]
        ) from None
    return records


def csv_template(parameters: list[Parameter], schemas: Mapping[str, Mapping[str, Any]]) -> str:
    """A CSV with the parameter names and one row of defaults (blank where there is none)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([p.name for p in parameters])
    defaults = [
        default_value(p, schemas.get(p.name, {})) if has_default(p) else "" for p in parameters
    ]
    writer.writerow(
        [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in defaults]
    )
    return out.getvalue()


# --- the `mode` of a run -------------------------------------------------------------------


def build_source(
    mode: Mapping[str, Any],
    document: WorkflowDocument,
    schemas: Mapping[str, Mapping[str, Any]],
    batch_size: int,
) -> IterationSource:
    """The iteration source for `mode`: `{"repeat": n}`, `{"table": [rows]}` or a campaign."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise _one("batch_size", "batch_size must be a whole number of at least 1")
    if not isinstance(mode, Mapping) or len(mode) != 1:
        raise _one("mode", 'mode must be one of {"repeat": n}, {"table": [rows]}, {"campaign": …}')
    ((kind, value),) = mode.items()
    if kind == "repeat":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _one("mode.repeat", "repeat must be a whole number of at least 0")
        missing = [p.name for p in document.parameters if not has_default(p)]
        if missing:
            raise _one(
                "mode.repeat",
                f"repeat runs every iteration with the parameters' defaults, and"
                f" {', '.join(missing)} {'has' if len(missing) == 1 else 'have'} none:"
                " give the values in a table instead",
            )
        defaults = {p.name: default_value(p, schemas.get(p.name, {})) for p in document.parameters}
        return RepeatSource(value, defaults, batch_size)
    if kind == "table":
        if not isinstance(value, list):
            raise _one("mode.table", "table must be a list of rows")
        bad = [i for i, row in enumerate(value, start=1) if not isinstance(row, Mapping)]
        if bad:
            problems = [_problem(f"rows[{i}]", f"row {i} is not an object", "invalid") for i in bad]
            raise _table_error("the parameter table", problems)
        return TableSource(convert_table(value, document.parameters, schemas), batch_size)
    if kind == "campaign":
        from labdeck.runtime.campaign import campaign_source  # it builds on this module

        return campaign_source(value, document, schemas, batch_size)
    raise _one("mode", f"unknown run mode {kind!r}: use repeat, table or campaign")


def _one(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields=[_problem(field, message, "invalid")])
