"""Safe arithmetic for the demo agent: an allow-list over Python's syntax tree.

Only numbers, ``+ - * / // % **``, unary ``-``/``+`` and parentheses pass;
names, calls, attribute access and everything else are refused before
anything is evaluated. Exponents and magnitudes are bounded so that no
expression can eat the CPU or memory (``9**9**9`` is refused, not computed).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

#: Longest expression accepted, in characters.
MAX_LENGTH = 200
#: Largest absolute exponent of ``**``.
MAX_EXPONENT = 1000
#: Largest absolute value of any literal or intermediate result: 10**100.
MAX_DIGITS = 100
_MAX_MAGNITUDE = 10**MAX_DIGITS

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_BASES: dict[str, Callable[[int], str]] = {"hex": hex, "bin": bin, "oct": oct}
#: Names the base conversion accepts, by canonical name.
BASE_NAMES = {"hex": "hexadecimal", "bin": "binary", "oct": "octal"}


class CalculatorError(ValueError):
    """The expression is not allowed, or its value would be too large or undefined."""


def calculate(expression: str) -> Number:
    """Evaluate an arithmetic expression, e.g. ``calculate("17*23") == 391``.

    A float result with no fractional part comes back as an int
    (``calculate("6/3") == 2``); others are rounded to 12 significant digits.

    Raises:
        CalculatorError: anything outside the allow-list, division by zero, an
            exponent beyond ±1000 or a value beyond 10**100.
    """
    if len(expression) > MAX_LENGTH:
        raise CalculatorError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise CalculatorError(f"not an arithmetic expression: {expression!r}") from None
    return _tidy(_evaluate(tree.body))


def convert_base(number: Number, base: str) -> str:
    """Write a whole number in ``hex``, ``bin`` or ``oct``: ``convert_base(391, "hex") == "0x187"``.

    Raises:
        CalculatorError: ``number`` is not whole, or ``base`` is not one of those.
    """
    key = base.lower()
    for short, long in BASE_NAMES.items():
        if key == long:
            key = short
    if key not in _BASES:
        raise CalculatorError(f"unknown base {base!r}: use hex, bin or oct")
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise CalculatorError(f"not a number: {number!r}")
    if isinstance(number, float):
        if not number.is_integer():
            raise CalculatorError(f"only whole numbers can be written in {BASE_NAMES[key]}")
        number = int(number)
    return _BASES[key](number)


def _evaluate(node: ast.expr) -> Number:
    match node:
        case ast.Constant(value=bool()):
            raise CalculatorError("names are not allowed: True/False")
        case ast.Constant(value=int() | float() as value):
            return _checked(value)
        case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
            return _checked(_UNARY[type(op)](_evaluate(operand)))
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            a, b = _evaluate(left), _evaluate(right)
            if isinstance(op, ast.Pow):
                _check_power(a, b)
            try:
                return _checked(_BINARY[type(op)](a, b))
            except ZeroDivisionError:
                raise CalculatorError("division by zero") from None
            except OverflowError:
                raise CalculatorError("the result is too large") from None
        case ast.Name(id=name):
            raise CalculatorError(f"names are not allowed: {name}")
        case ast.Call():
            raise CalculatorError("function calls are not allowed")
        case ast.Attribute():
            raise CalculatorError("attribute access is not allowed")
        case _:
            raise CalculatorError(f"not allowed in an expression: {type(node).__name__}")


def _check_power(base: Number, exponent: Number) -> None:
    # Decide from the operands' size alone: computing first is the attack.
    if abs(exponent) > MAX_EXPONENT:
        raise CalculatorError(f"the exponent is beyond ±{MAX_EXPONENT}")
    if base != 0 and abs(base) != 1 and exponent * math.log10(abs(base)) > MAX_DIGITS:
        raise CalculatorError(f"the result would be beyond 10**{MAX_DIGITS}")


def _checked(value: object) -> Number:
    if isinstance(value, complex):
        raise CalculatorError("the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculatorError("the result is too large")
    if not isinstance(value, int | float):
        raise CalculatorError(f"not a number: {value!r}")
    if abs(value) > _MAX_MAGNITUDE:
        raise CalculatorError(f"the number is beyond 10**{MAX_DIGITS}")
    return value


def _tidy(value: Number) -> Number:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return float(f"{value:.12g}")
    return value
