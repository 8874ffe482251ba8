import math

import pytest

from firmware_host.durations import format_duration, parse_duration_ms
from firmware_host.errors import DurationError, InvalidInput


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("90s", 90_000),
        ("2m", 120_000),
        ("1h30m", 5_400_000),
        ("250ms", 250),
        ("1.5s", 1500),
        ("1m30s", 90_000),
        (" 2 m ", 120_000),
        (3, 3000),
        (0.5, 500),
    ],
)
def test_reads_durations_people_write(text: object, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize(
    "bad", ["", "abc", "10", "5x", "30s1m", "1m1m", "-2s", True, None, math.nan, math.inf, -1, [1]]
)
def test_rejects_anything_else_with_an_example(bad: object) -> None:
    with pytest.raises(DurationError) as err:
        parse_duration_ms(bad)
    assert isinstance(err.value, InvalidInput) and isinstance(err.value, ValueError)


def test_zero_only_where_allowed() -> None:
    with pytest.raises(DurationError, match="above 0"):
        parse_duration_ms("0s")
    assert parse_duration_ms("0s", allow_zero=True) == 0


def test_formats_for_people() -> None:
    assert format_duration(40) == "40ms"
    assert format_duration(1500) == "1.5s"
    assert format_duration(125_000) == "2m05s"
    assert format_duration(5_400_000) == "1h30m"
