"""Tests of agentsocket.agents.clock: date arithmetic on an injected time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from agentsocket.agents import ClockError, utc_now
from agentsocket.agents.clock import days_until, describe, parse_date, shift, weekday

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        (3, "days", datetime(2024, 5, 4, 12, 0, tzinfo=UTC)),
        (1, "day", datetime(2024, 5, 2, 12, 0, tzinfo=UTC)),
        (-2, "hours", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        (90, "minutes", datetime(2024, 5, 1, 13, 30, tzinfo=UTC)),
        (2, "Weeks", datetime(2024, 5, 15, 12, 0, tzinfo=UTC)),
        (1.5, "days", datetime(2024, 5, 3, 0, 0, tzinfo=UTC)),
    ],
)
def test__shift__moves_the_time(amount: float, unit: str, expected: datetime) -> None:
    assert shift(NOON, amount, unit) == expected


@pytest.mark.parametrize(
    ("amount", "unit", "reason"),
    [
        (1, "fortnights", "unknown time unit"),
        (10**7, "days", "more than a hundred years"),
        (10**12, "weeks", "more than a hundred years"),
        (float("nan"), "days", "more than a hundred years"),
    ],
)
def test__shift__refused(amount: float, unit: str, reason: str) -> None:
    with pytest.raises(ClockError, match=reason):
        shift(NOON, amount, unit)


def test__shift__past_the_end_of_the_calendar__refused() -> None:
    with pytest.raises(ClockError, match="out of range"):
        shift(datetime(9999, 12, 1, tzinfo=UTC), 60, "days")


def test__days_until__future_today_and_past() -> None:
    today = date(2024, 5, 1)
    assert days_until(today, date(2030, 1, 1)) == 2071
    assert days_until(today, today) == 0
    assert days_until(today, date(2024, 4, 30)) == -1


def test__weekday__english_names() -> None:
    assert weekday(date(2030, 1, 1)) == "Tuesday"
    assert weekday(date(2024, 5, 5)) == "Sunday"


def test__parse_date__iso_only() -> None:
    assert parse_date(" 2030-01-01 ") == date(2030, 1, 1)
    with pytest.raises(ClockError, match="not a date"):
        parse_date("2030-02-30")
    with pytest.raises(ClockError, match="not a date"):
        parse_date("tomorrow")


def test__describe__date_time_zone_and_weekday() -> None:
    assert describe(NOON) == "2024-05-01 12:00 UTC (Wednesday)"
    plus_two = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert describe(plus_two) == "2024-05-01 14:00 UTC+02:00 (Wednesday)"


def test__utc_now__is_timezone_aware_utc() -> None:
    assert utc_now().utcoffset() == timedelta(0)
