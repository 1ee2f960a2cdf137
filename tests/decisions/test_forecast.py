"""The forecast: the growth the previous days showed between now and now + lead."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.decisions import forecast
from stackeye.decisions.model import HourLoad

AT = dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.timezone.utc)


def test_growth_is_the_median_of_the_days():
    days = [HourLoad(1, 100, 200), HourLoad(2, 100, 200), HourLoad(3, 100, 900)]  # one odd day
    assert forecast.growth(AT, days, 3600, 1) == pytest.approx(2.0)


def test_growth_interpolates_within_the_hour():
    days = [HourLoad(1, 100, 200)]
    assert forecast.growth(AT, days, 0, 1) == pytest.approx(1.0)
    assert forecast.growth(AT, days, 1800, 1) == pytest.approx(1.5)
    early = AT.replace(minute=0)  # 30 min before the midpoint: load 50 there, 100 half an hour later
    assert forecast.growth(early, days, 1800, 1) == pytest.approx(100 / 50)


def test_too_few_days_or_no_traffic_is_no_forecast():
    assert forecast.growth(AT, [HourLoad(1, 100, 200)], 600, 2) is None
    assert forecast.growth(AT, [HourLoad(1, 0, 200)], 600, 1) is None
    assert forecast.growth(AT, [], 600, 1) is None
