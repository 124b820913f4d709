"""``closure_reason``: why a day is closed, for every closed day and for no business day."""

from __future__ import annotations

import datetime as dt

import holidays
import pytest

from airflow_restjob.timetables.business_calendar import BusinessCalendar, CombinedCalendar

D = dt.date.fromisoformat


@pytest.fixture(autouse=True)
def _english_holiday_names(monkeypatch):
    monkeypatch.setenv("LANGUAGE", "en_US")


@pytest.fixture()
def plant() -> BusinessCalendar:
    return BusinessCalendar(
        country="JP",
        name="plant",
        closed=["2025-08-13", "2025-08-14/2025-08-16"],
        annual_closed=["12-29/01-03", "02-29"],
        working=["2025-08-16", "2025-01-11"],
    )


def test_each_rule_is_named(plant):
    names = holidays.country_holidays("JP", years=2025)
    assert plant.closure_reason("2025-01-13") == names[D("2025-01-13")]  # Coming of Age Day
    assert plant.closure_reason(D("2025-01-01")) == f"{names[D('2025-01-01')]}; annual closure (12-29/01-03)"
    assert plant.closure_reason("2025-12-30") == "annual closure (12-29/01-03)"
    assert plant.closure_reason("2025-08-13") == "company closure"
    assert plant.closure_reason("2025-08-14") == "company closure (2025-08-14/2025-08-16)"
    assert plant.closure_reason("2025-08-17") == "weekly closed day (Sunday)"
    assert plant.closure_reason("2025-02-28") == "annual closure (02-29)"  # clamped, as the closure itself
    assert plant.closure_reason(dt.datetime(2025, 8, 18, 9)) is None  # a Monday, open


def test_working_days_and_business_days_have_no_reason(plant):
    assert plant.closure_reason("2025-08-16") is None  # a closure range day, made a working day
    assert plant.closure_reason("2025-01-11") is None  # a working Saturday
    assert plant.closure_reason("2025-01-14") is None


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_a_reason_exactly_for_the_closed_days(plant, year):
    day = dt.date(year, 1, 1)
    while day.year == year:
        reason = plant.closure_reason(day)
        assert (reason is None) == plant.is_business_day(day), day
        assert reason != "closed", day  # every closed day names its rule
        day += dt.timedelta(days=1)


def test_combined_calendars_name_the_calendar_that_closes():
    jp = BusinessCalendar(country="JP", name="jp")
    wednesdays = BusinessCalendar(weekly_closed=["wed"], name="plant")
    new_year = holidays.country_holidays("JP", years=2025)[D("2025-01-01")]
    either = CombinedCalendar([jp, wednesdays], mode="any")
    assert either.closure_reason("2025-01-01") == f"jp: {new_year}; plant: weekly closed day (Wednesday)"
    assert either.closure_reason("2025-01-08") == "plant: weekly closed day (Wednesday)"
    assert either.closure_reason("2025-01-05") == "jp: weekly closed day (Sunday)"
    both = CombinedCalendar([jp, wednesdays], mode="all")
    assert both.closure_reason("2025-01-08") is None and both.closure_reason("2025-01-05") is None
    assert both.closure_reason("2025-01-01") == either.closure_reason("2025-01-01")


def test_definition_unchanged(plant):
    assert plant.to_dict() == {
        "type": "business",
        "name": "plant",
        "country": "JP",
        "subdiv": None,
        "weekly_closed": ["sat", "sun"],
        "closed": ["2025-08-13", "2025-08-14/2025-08-16"],
        "annual_closed": ["02-29", "12-29/01-03"],
        "working": ["2025-01-11", "2025-08-16"],
    }
