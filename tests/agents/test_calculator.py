"""Tests of agentsocket.agents.calculator: the AST allow-list and its bounds."""

from __future__ import annotations

import pytest

from agentsocket.agents import CalculatorError, calculate, convert_base


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("17*23", 391),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("-5 + 3", -2),
        ("+4", 4),
        ("--4", 4),
        ("7 / 2", 3.5),
        ("6 / 3", 2),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("2 ** -2", 0.25),
        ("(-2) ** 3", -8),
        ("0.1 + 0.2", 0.3),
        ("1.5e3", 1500),
        ("10 ** 100", 10**100),
        ("  42  ", 42),
    ],
)
def test__calculate__allowed_expressions(expression: str, expected: float) -> None:
    assert calculate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os')", "function calls are not allowed"),
        ("__import__", "names are not allowed: __import__"),
        ("x + 1", "names are not allowed: x"),
        ("True + 1", "names are not allowed"),
        ("(1).real", "attribute access is not allowed"),
        ("().__class__", "attribute access is not allowed"),
        ("abs(-1)", "function calls are not allowed"),
        ("'a' * 3", "not allowed in an expression: Constant"),
        ("[1, 2]", "not allowed in an expression: List"),
        ("1 if 1 else 2", "not allowed in an expression: IfExp"),
        ("lambda: 1", "not allowed in an expression: Lambda"),
        ("1 < 2", "not allowed in an expression: Compare"),
        ("1 << 10", "not allowed in an expression: BinOp"),
        ("~1", "not allowed in an expression: UnaryOp"),
        ("2j", "not allowed in an expression: Constant"),
        ("9**9**9", "the exponent is beyond ±1000"),
        ("2 ** 1001", "the exponent is beyond ±1000"),
        ("10 ** 101", "the result would be beyond 10**100"),
        ("0.001 ** -200", "the result would be beyond 10**100"),
        ("9" * 150, "the number is beyond 10**100"),
        ("10**100 * 10", "the number is beyond 10**100"),
        ("1e300 * 1e300", "the number is beyond 10**100"),
        ("(-8) ** 0.5", "the result is not a real number"),
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("1 +", "not an arithmetic expression"),
        ("import os", "not an arithmetic expression"),
        ("1" * 201, "longer than 200 characters"),
    ],
)
def test__calculate__refused(expression: str, reason: str) -> None:
    with pytest.raises(CalculatorError) as caught:
        calculate(expression)
    assert reason in str(caught.value)


def test__calculate__deep_nesting__refused_not_crashing() -> None:
    with pytest.raises(CalculatorError):
        calculate("(" * 100 + "1" + ")" * 100)


def test__calculator_error__is_a_value_error() -> None:
    assert issubclass(CalculatorError, ValueError)


@pytest.mark.parametrize(
    ("number", "base", "expected"),
    [
        (391, "hex", "0x187"),
        (391, "hexadecimal", "0x187"),
        (5, "bin", "0b101"),
        (5, "binary", "0b101"),
        (8, "oct", "0o10"),
        (8, "Octal", "0o10"),
        (-391, "hex", "-0x187"),
        (391.0, "hex", "0x187"),
        (0, "bin", "0b0"),
    ],
)
def test__convert_base__whole_numbers(number: float, base: str, expected: str) -> None:
    assert convert_base(number, base) == expected


@pytest.mark.parametrize(
    ("number", "base", "reason"),
    [
        (3.5, "hex", "only whole numbers"),
        (10, "base64", "unknown base"),
        (True, "hex", "not a number"),
    ],
)
def test__convert_base__refused(number: float, base: str, reason: str) -> None:
    with pytest.raises(CalculatorError, match=reason):
        convert_base(number, base)
