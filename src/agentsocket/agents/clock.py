"""Date and time arithmetic for the demo agent; the current time is injected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

#: Returns the current, timezone-aware time; tests pass a fixed one.
Clock = Callable[[], datetime]

_UNITS = {"minute": "minutes", "hour": "hours", "day": "days", "week": "weeks"}
_DAYS_PER = {"minutes": 1 / 1440, "hours": 1 / 24, "days": 1.0, "weeks": 7.0}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: Largest shift accepted, in days, so a result stays inside ``datetime``'s range.
MAX_SHIFT_DAYS = 100 * 366


class ClockError(ValueError):
    """A date that is not ``YYYY-MM-DD``, an unknown unit, or a shift out of range."""


def utc_now() -> datetime:
    """The default clock: now, in UTC."""
    return datetime.now(UTC)


def parse_date(text: str) -> date:
    """Read an ISO date (``2030-01-01``).

    Raises:
        ClockError: not a valid ``YYYY-MM-DD`` date.
    """
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ClockError(f"not a date (YYYY-MM-DD): {text!r}") from None


def shift(moment: datetime, amount: float, unit: str) -> datetime:
    """``moment`` moved by ``amount`` minutes, hours, days or weeks (negative: back).

    Raises:
        ClockError: unknown unit, or a shift beyond about a hundred years.
    """
    name = unit.strip().lower()
    name = _UNITS.get(name, name)
    if name not in _UNITS.values():
        raise ClockError(f"unknown time unit {unit!r}: use minutes, hours, days or weeks")
    if not abs(amount * _DAYS_PER[name]) <= MAX_SHIFT_DAYS:
        raise ClockError("that is more than a hundred years away")
    try:
        return moment + timedelta(**{name: amount})
    except OverflowError:
        raise ClockError("that date is out of range") from None


def days_until(today: date, target: date) -> int:
    """Whole days from ``today`` to ``target``; negative when it is past."""
    return (target - today).days


def weekday(day: date) -> str:
    """The English name of the day of the week, e.g. ``"Tuesday"``."""
    return _WEEKDAYS[day.weekday()]


def describe(moment: datetime) -> str:
    """``2030-01-01 12:00 UTC (Tuesday)``: how the demo agent writes a time."""
    zone = moment.tzname() or ""
    return f"{moment:%Y-%m-%d %H:%M} {zone} ({weekday(moment.date())})".replace("  ", " ")
