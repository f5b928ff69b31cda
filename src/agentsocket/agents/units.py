"""Unit conversion for the demo agent: length, mass, temperature and time."""

from __future__ import annotations

from dataclasses import dataclass


class UnitError(ValueError):
    """An unknown unit, units of different kinds, or a temperature below absolute zero."""


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit: ``base = (value + offset) * factor`` in its dimension's base unit."""

    symbol: str
    dimension: str
    factor: float
    offset: float = 0.0


_UNITS = (
    # length, base metre
    (Unit("mm", "length", 0.001), ("millimeter", "millimeters", "millimetre", "millimetres")),
    (Unit("cm", "length", 0.01), ("centimeter", "centimeters", "centimetre", "centimetres")),
    (Unit("m", "length", 1.0), ("meter", "meters", "metre", "metres")),
    (Unit("km", "length", 1000.0), ("kilometer", "kilometers", "kilometre", "kilometres")),
    (Unit("in", "length", 0.0254), ("inch", "inches")),
    (Unit("ft", "length", 0.3048), ("foot", "feet")),
    (Unit("yd", "length", 0.9144), ("yard", "yards")),
    (Unit("mi", "length", 1609.344), ("mile", "miles")),
    # mass, base kilogram
    (Unit("mg", "mass", 1e-6), ("milligram", "milligrams")),
    (Unit("g", "mass", 0.001), ("gram", "grams")),
    (Unit("kg", "mass", 1.0), ("kilogram", "kilograms", "kilo", "kilos")),
    (Unit("t", "mass", 1000.0), ("tonne", "tonnes")),
    (Unit("oz", "mass", 0.028349523125), ("ounce", "ounces")),
    (Unit("lb", "mass", 0.45359237), ("lbs", "pound", "pounds")),
    # temperature, base kelvin
    (Unit("°C", "temperature", 1.0, 273.15), ("c", "celsius", "degc")),
    (Unit("°F", "temperature", 5 / 9, 459.67), ("f", "fahrenheit", "degf")),
    (Unit("K", "temperature", 1.0), ("k", "kelvin", "kelvins")),
    # time, base second
    (Unit("ms", "time", 0.001), ("millisecond", "milliseconds")),
    (Unit("s", "time", 1.0), ("sec", "secs", "second", "seconds")),
    (Unit("min", "time", 60.0), ("mins", "minute", "minutes")),
    (Unit("h", "time", 3600.0), ("hr", "hrs", "hour", "hours")),
    (Unit("d", "time", 86400.0), ("day", "days")),
    (Unit("wk", "time", 604800.0), ("week", "weeks")),
)

#: Every accepted spelling (lower case) and its unit.
UNITS: dict[str, Unit] = {
    name: unit
    for unit, aliases in _UNITS
    for name in (unit.symbol.lower(), unit.symbol.lower().lstrip("°"), *aliases)
}


def unit(name: str) -> Unit:
    """Look up a unit by symbol or name, case-insensitively (``"Miles"``, ``"°F"``).

    Raises:
        UnitError: no such unit.
    """
    found = UNITS.get(name.strip().lower())
    if found is None:
        raise UnitError(f"unknown unit {name!r}")
    return found


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` between units of one dimension, to 10 significant digits.

    ``convert_units(5, "mi", "km") == 8.04672``; ``convert_units(-40, "c", "f") == -40``.

    Raises:
        UnitError: unknown units, different dimensions, or below absolute zero.
    """
    source, target = unit(from_unit), unit(to_unit)
    if source.dimension != target.dimension:
        raise UnitError(
            f"cannot convert {source.dimension} ({source.symbol}) "
            f"to {target.dimension} ({target.symbol})"
        )
    base = (value + source.offset) * source.factor
    if source.dimension == "temperature" and base < 0:
        raise UnitError(f"{value:g} {source.symbol} is below absolute zero")
    return float(f"{base / target.factor - target.offset:.10g}")
