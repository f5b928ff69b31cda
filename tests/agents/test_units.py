"""Tests of agentsocket.agents.units: conversions and their errors."""

from __future__ import annotations

import re

import pytest

from agentsocket.agents import UnitError, convert_units
from agentsocket.agents.units import unit


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (5, "mi", "km", 8.04672),
        (1, "km", "m", 1000),
        (12, "in", "cm", 30.48),
        (3, "feet", "inches", 36),
        (1, "yard", "ft", 3),
        (1, "kg", "lb", 2.204622622),
        (16, "oz", "lb", 1),
        (2500, "g", "kg", 2.5),
        (1, "tonne", "kg", 1000),
        (100, "c", "f", 212),
        (-40, "celsius", "fahrenheit", -40),
        (100, "f", "c", 37.77777778),
        (0, "k", "c", -273.15),
        (0, "°C", "K", 273.15),
        (90, "minutes", "hours", 1.5),
        (2, "h", "s", 7200),
        (1, "week", "days", 7),
        (1500, "ms", "sec", 1.5),
        (1, "MILE", "Meters", 1609.344),
    ],
)
def test__convert_units__examples(value: float, source: str, target: str, expected: float) -> None:
    assert convert_units(value, source, target) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ("km", "kg", "cannot convert length (km) to mass (kg)"),
        ("c", "s", "cannot convert temperature"),
        ("parsec", "km", "unknown unit 'parsec'"),
        ("km", "furlong", "unknown unit 'furlong'"),
    ],
)
def test__convert_units__refused(source: str, target: str, reason: str) -> None:
    with pytest.raises(UnitError, match=re.escape(reason)):
        convert_units(1, source, target)


def test__convert_units__below_absolute_zero__refused() -> None:
    with pytest.raises(UnitError, match="below absolute zero"):
        convert_units(-300, "c", "k")


def test__unit__symbols_and_names_find_the_same_unit() -> None:
    assert unit("mi") is unit("miles") is unit(" Mile ")
    assert unit("°F").symbol == "°F"
    assert unit("fahrenheit").symbol == "°F"
