"""Reconnect delays: exponential ceilings, capped, with full jitter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentsocket.client import Backoff


def highest(low: float, high: float) -> float:
    return high


def test__ceiling__doubles_from_base_until_the_cap() -> None:
    backoff = Backoff(0.5, 30.0)
    assert [backoff.ceiling(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.ceiling(10_000) == 30.0


def test__delay__full_jitter_draws_between_zero_and_the_ceiling() -> None:
    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return high / 2

    backoff = Backoff(1.0, 10.0, uniform)
    assert [backoff.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert draws == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 8.0), (0.0, 10.0)]


def test__delay__server_reconnect_after_is_a_floor() -> None:
    backoff = Backoff(1.0, 10.0, highest)
    assert backoff.delay(0, floor=3.0) == 3.0
    assert backoff.delay(3, floor=3.0) == 8.0


@given(
    base=st.floats(0, 5),
    extra=st.floats(0, 100),
    attempt=st.integers(0, 200),
)
def test__delay__never_negative_never_above_the_cap(
    base: float, extra: float, attempt: int
) -> None:
    backoff = Backoff(base, base + extra)
    assert 0.0 <= backoff.delay(attempt) <= base + extra


@pytest.mark.parametrize(("base", "cap"), [(-1.0, 1.0), (2.0, 1.0)])
def test__bad_bounds__value_error(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base, cap)


def test__negative_attempt__value_error() -> None:
    with pytest.raises(ValueError, match="attempt"):
        Backoff().ceiling(-1)
