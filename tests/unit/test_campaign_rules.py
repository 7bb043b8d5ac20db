"""Reminder offsets and encouragement rotation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.campaigns.campaigns import Offset, OffsetError, rotation_pick

TUESDAY_1830_NY = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)  # 18:30 EDT (DST began March 8)


@pytest.mark.parametrize(
    ("text", "planned_utc"),
    [
        ("2h", datetime(2026, 3, 10, 20, 30, tzinfo=UTC)),
        ("30m", datetime(2026, 3, 10, 22, 0, tzinfo=UTC)),
        ("1d2h", datetime(2026, 3, 9, 20, 30, tzinfo=UTC)),
        # The day before at 18:00 New York time, which is EDT on March 9.
        ("1d@18:00", datetime(2026, 3, 9, 22, 0, tzinfo=UTC)),
        # Three days before falls on March 7, still EST: 18:00 is 23:00 UTC.
        ("3d@18:00", datetime(2026, 3, 7, 23, 0, tzinfo=UTC)),
        (" 1D @ 9:05 ", datetime(2026, 3, 9, 13, 5, tzinfo=UTC)),
    ],
)
def test_offsets_give_the_intended_moment(text: str, planned_utc: datetime) -> None:
    assert Offset.parse(text).planned(TUESDAY_1830_NY, "America/New_York") == planned_utc


def test_a_day_offset_is_wall_time_where_the_participant_lives() -> None:
    offset = Offset.parse("1d@18:00")
    assert offset.planned(TUESDAY_1830_NY, "America/Los_Angeles") == datetime(
        2026, 3, 10, 1, 0, tzinfo=UTC
    )
    assert (offset.days_before, offset.at) == (1, time(18, 0))


@pytest.mark.parametrize("text", ["", "soon", "2x", "0h", "-1h", "1d@25:00", "61d", "90d@10:00"])
def test_bad_offsets_are_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(OffsetError) as refused:
        Offset.parse(text)
    assert repr(text.strip().lower().replace(" ", "")) in str(refused.value) or repr(text) in str(
        refused.value
    )


def test_longest_reach() -> None:
    assert Offset.parse("2h").longest == timedelta(hours=2)
    assert Offset.parse("2d@09:00").longest == timedelta(days=3)


@given(
    pool=st.integers(min_value=1, max_value=40),
    campaign=st.integers(min_value=1, max_value=10_000),
    participant=st.integers(min_value=1, max_value=1_000_000),
    cycle=st.integers(min_value=0, max_value=50),
)
def test_rotation_never_repeats_before_the_pool_is_used_up(
    pool: int, campaign: int, participant: int, cycle: int
) -> None:
    picks = [rotation_pick(pool, campaign, participant, cycle * pool + i) for i in range(pool)]
    assert sorted(picks) == list(range(pool))


@given(n=st.integers(min_value=0, max_value=10_000))
def test_rotation_is_stable_so_planning_twice_picks_the_same_line(n: int) -> None:
    assert rotation_pick(12, 3, 7, n) == rotation_pick(12, 3, 7, n)


def test_different_people_do_not_all_get_the_same_line() -> None:
    firsts = {rotation_pick(12, 1, participant, 0) for participant in range(1, 50)}
    assert len(firsts) > 6
