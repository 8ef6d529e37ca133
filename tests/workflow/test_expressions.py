"""Safe expressions (workflow/expressions.py): the language, its bounds, placeholders."""

from __future__ import annotations

import contextlib
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labdeck.workflow.expressions import (
    FUNCTIONS,
    MAX_EXPRESSION_LENGTH,
    ExpressionError,
    ParsedExpression,
    evaluate,
    parse_expression,
    placeholders,
    render_text,
)

NAMES = {"mass": 4.8, "offset": 0.5, "counts": [3, 1, 2], "reading": {"a": 1.5}, "label": "A1"}


def value_of(text: str, **names: Any) -> Any:
    return evaluate(text, names or NAMES)


def refusal(text: str) -> str:
    with pytest.raises(ExpressionError) as exc:
        parse_expression(text)
    return str(exc.value)


def failure(text: str, **names: Any) -> str:
    with pytest.raises(ExpressionError) as exc:
        evaluate(text, names or NAMES)
    return str(exc.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mass * 2 + offset", 10.1),
        ("(1 + 2) * 3 - 4 / 2", 7.0),
        ("7 // 2 + 7 % 2", 4),
        ("2 ** 10", 1024),
        ("-mass + +offset", -4.3),
        ("mass > 4.5 and not offset > 1", True),
        ("mass < 1 or offset", 0.5),
        ("1 < 2 <= 2 != 3", True),
        ("counts[0] + counts[-1]", 5),
        ("counts[1:]", [1, 2]),
        ("reading['a']", 1.5),
        ("label == 'A1'", True),
        ("2 in counts and 9 not in counts", True),
        ("'A' in label", True),
        ("[1, mass][1]", 4.8),
        ("(1, 2)", (1, 2)),
        ("None is None", True),
        ("mass is not None", True),
        ("True and False", False),
        ("abs(-2) + min(3, 1) + max(counts) + len(counts)", 9),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("int('7') + int(2.9) + float('1.5')", 10.5),
        ("str(3) + 'x'", "3x"),
        ("sqrt(16) + log(1) + exp(0)", 5.0),
        ("log(8, 2)", 3.0),
        ("  mass  ", 4.8),
    ],
)
def test_the_language(text: str, expected: Any) -> None:
    result = value_of(text)
    if isinstance(expected, float):
        assert math.isclose(result, expected)
    else:
        assert result == expected
        assert type(result) is type(expected)


def test_names_are_the_free_names_without_functions() -> None:
    parsed = parse_expression("max(mass, limit) + abs(offset) > counts[i]")
    assert parsed.names == frozenset({"mass", "limit", "offset", "counts", "i"})
    assert parse_expression("1 + 2").names == frozenset()
    assert parse_expression("True or None").names == frozenset()


def test_parsing_is_cached_and_evaluate_takes_a_parsed_expression() -> None:
    first = parse_expression("mass * 3")
    assert parse_expression("mass * 3") is first
    assert isinstance(first, ParsedExpression)
    assert evaluate(first, {"mass": 2}) == 6
    # Refusals are cached too, and raised afresh each time.
    errors = []
    for _ in range(2):
        with pytest.raises(ExpressionError) as exc:
            parse_expression("x.y")
        errors.append(exc.value)
    assert errors[0] is not errors[1]
    assert str(errors[0]) == str(errors[1])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mass.real", "attribute access"),
        ("counts.__class__", "attribute access"),
        ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
        ("str.join('', counts)", "attribute access"),
        ("__import__('os')", "unknown function '__import__'"),
        ("import os", "imports are not allowed"),
        ("from os import path", "imports are not allowed"),
        ("x = 1", "assignment is not allowed"),
        ("x += 1", "assignment is not allowed"),
        ("(x := 1)", "assignment (:=) is not allowed"),
        ("lambda: 1", "lambda is not allowed"),
        ("[x for x in counts]", "comprehensions are not allowed"),
        ("{x for x in counts}", "comprehensions are not allowed"),
        ("{x: 1 for x in counts}", "comprehensions are not allowed"),
        ("max(x for x in counts)", "comprehensions are not allowed"),
        ("f'{mass}'", "f-strings are not allowed"),
        ("f'{mass:>999999999}'", "f-strings are not allowed"),
        ("1 if mass else 2", "use an if step"),
        ("{'a': 1}", "dict literals are not allowed"),
        ("{1, 2}", "set literals are not allowed"),
        ("[*counts]", "unpacking"),
        ("max(*counts)", "unpacking"),
        ("1 & 2", "bitwise"),
        ("1 | 2", "bitwise"),
        ("1 ^ 2", "bitwise"),
        ("1 << 2", "not allowed"),
        ("~1", "not allowed"),
        ("a @ b", "not allowed"),
        ("mass is 1", "'is' compares only with None"),
        ("abs", "abs is a function"),
        ("max(counts, key=abs)", "positional arguments only"),
        ("print(1)", "unknown function 'print'"),
        ("eval('1')", "unknown function 'eval'"),
        ("counts[0](1)", "can be called"),
        ("b'x'", "bytes"),
        ("1j", "complex"),
        ("...", "'...'"),
        ("await x", "await is not allowed"),
        ("1; 2", "only one expression"),
        ("1 +", "not a valid expression"),
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (MAX_EXPRESSION_LENGTH + 1), "longer than 2000"),
        ("-" * 200 + "1", "nested too deeply"),
        ("(" * 300 + "1" + ")" * 300, "not a valid expression"),
        ("a\x00", "not a valid expression"),
    ],
)
def test_refused_constructs_name_what_is_wrong(text: str, says: str) -> None:
    assert says in refusal(text)


def test_evaluation_failures_are_expression_errors() -> None:
    assert "division by zero" in failure("mass / 0")
    assert "division by zero" in failure("1 % 0")
    assert "unknown name 'nope'" in failure("nope + 1")
    assert "'a', 'b'" in failure("a + b")
    assert "no key 'b'" in failure("reading['b']")
    assert "index out of range" in failure("counts[10]")
    assert "can only concatenate str" in failure("label + 1")
    assert "unsupported operand" in failure("counts - 1")
    assert "math domain error" in failure("sqrt(-1)")
    assert "math domain error" in failure("log(0)")
    assert "number too large" in failure("exp(1000)")
    assert "not a real number" in failure("(-8) ** 0.5")
    assert "invalid literal" in failure("int('abc')")
    assert "'%' on a string" in failure("'%s' % mass")
    assert "'%' on a string" in failure("'%999999999d' % 1")
    message = failure("mass / 0")
    assert message.endswith("in 'mass / 0'")


@pytest.mark.parametrize(
    "text",
    [
        "9**9**9",
        "10 ** 100000",
        "2 ** 4000 * 2 ** 4000 * 2 ** 4000",
        "(10 ** 3000) ** 4",
        "'a' * 10 ** 9",
        "10 ** 9 * 'a'",
        "[0] * 10 ** 9",
        "[[1] * 10000] * 10000",
        "str([[[1] * 100] * 100] * 100)",
        "round(10 ** 40, -10 ** 9)",
        "round(1.5, 10 ** 9)",
        "(" + "'x' * 5000 + " * 30 + "'x')",
    ],
)
def test_evaluation_is_bounded_and_never_hangs(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as exc:
        evaluate(text, {})
    assert time.perf_counter() - start < 1.0
    assert "too" in str(exc.value) or "round()" in str(exc.value)


def test_results_within_the_bounds_are_fine() -> None:
    assert value_of("len('ab' * 5000)") == 10_000
    assert value_of("len([0] * 96)") == 96
    assert value_of("2 ** 1000 > 0")
    assert value_of("10 ** -400") == 0.0
    assert value_of("[1] * -3") == []


def test_only_the_listed_functions_exist() -> None:
    assert set(FUNCTIONS) == {
        *("abs", "min", "max", "round", "len", "int", "float", "str", "sqrt", "log", "exp"),
    }
    for name in ("list", "dict", "tuple", "set", "rand", "randint", "open", "getattr"):
        assert "unknown function" in refusal(f"{name}(1)")


def test_evaluation_in_threads_keeps_names_apart() -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: evaluate("x * 2", {"x": n}), range(300)))
    assert results == [2 * n for n in range(300)]


def test_names_shadowing_nothing_dangerous() -> None:
    # A name is looked up only in the mapping given, never in builtins.
    assert "unknown name '__builtins__'" in failure("__builtins__")
    assert "unknown name 'open'" in failure("open")
    assert value_of("True", x=1) is True


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_parse_raises_nothing_but_expression_error(text: str) -> None:
    try:
        parsed = parse_expression(text)
    except ExpressionError:
        return
    assert isinstance(parsed.names, frozenset)


PYTHONISH = st.lists(
    st.sampled_from(
        [
            *("x", "y", "1", "2.5", "'a'", "True", "None", "(", ")", "[", "]", ",", ":"),
            *("+", "-", "*", "/", "//", "%", "**", "<", "==", " and ", " or ", "not "),
            *(" in ", " is ", ".", "abs(", "max(", "round(", "str(", "len(", "int("),
            *("lambda", "for", " if ", "else", "=", "{", "}", "f'", "\\", "@", "~", "&"),
        ]
    ),
    max_size=25,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(PYTHONISH)
def test_python_like_text_parses_or_is_refused_and_evaluates_or_fails_cleanly(text: str) -> None:
    try:
        parsed = parse_expression(text)
    except ExpressionError:
        return
    with contextlib.suppress(ExpressionError):
        evaluate(parsed, {"x": 3, "y": [1, 2]})


def test_placeholders_are_bare_names_in_braces() -> None:
    text = "mass {mass} mg, {{literal}} {nope} { spaced } {a.b} {1} {mass} {x_1}"
    assert placeholders(text) == ["mass", "nope", "x_1"]
    assert placeholders("") == []
    assert placeholders("{{mass}}") == []


def test_render_text_replaces_known_names_and_keeps_the_rest() -> None:
    rendered = render_text(
        "low mass {mass} mg ({label}), {{braces}} {nope} {a.b} {", {"mass": 1.5, "label": "A1"}
    )
    assert rendered == "low mass 1.5 mg (A1), {braces} {nope} {a.b} {"
    assert render_text("{{{mass}}}", {"mass": 2}) == "{2}"
    assert render_text("{values}", {"values": [1, None]}) == "[1, None]"
