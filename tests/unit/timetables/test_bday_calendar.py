"""Unit tests of airflow_restjob.timetables.business_calendar."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle

import pytest

from airflow_restjob.timetables.business_calendar import (
    BusinessCalendar,
    CalendarError,
    CombinedCalendar,
    calendar_from_dict,
    load_calendar,
)

D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def jp() -> BusinessCalendar:
    return BusinessCalendar(country="JP", annual_closed=["12-29/01-03"], name="rental-car")


class TestHolidays:
    @pytest.mark.parametrize(
        "day",
        [
            "2019-05-06",  # substitute holiday for Children's Day (Sunday 5/5)
            "2024-02-12",  # substitute holiday for National Foundation Day (Sunday 2/11)
            "2019-04-30",  # citizens' holiday between Showa Day and the enthronement day
            "2024-01-01",
            "2025-11-24",  # substitute holiday for Labour Thanksgiving Day (Sunday 11/23)
        ],
    )
    def test_jp_closed(self, jp, day):
        assert not jp.is_business_day(day)
        assert jp.is_closed(D(day))

    @pytest.mark.parametrize("day", ["2024-02-13", "2024-02-09", "2019-05-07", "2023-12-28", "2024-01-04"])
    def test_jp_open(self, jp, day):
        assert jp.is_business_day(day)

    def test_year_end_closure_wraps_the_year(self, jp):
        closed = jp.closed_days_between("2023-12-28", "2024-01-05")
        assert closed == [D(f"2023-12-{d}") for d in (29, 30, 31)] + [D(f"2024-01-0{d}") for d in (1, 2, 3)]

    def test_us_observed_holiday(self):
        us = BusinessCalendar(country="US")
        assert not us.is_business_day("2021-12-31")  # New Year's Day 2022 (Sat) observed on Friday
        assert not us.is_business_day("2020-07-03")  # Independence Day (Sat) observed
        assert us.is_business_day("2021-12-30")

    def test_subdivision(self):
        ca = BusinessCalendar(country="US", subdiv="CA")
        assert not ca.is_business_day("2025-03-31")  # Cesar Chavez Day, a California holiday
        assert BusinessCalendar(country="US").is_business_day("2025-03-31")
        assert ca.to_dict()["subdiv"] == "CA"

    def test_unknown_country_names_it(self):
        with pytest.raises(CalendarError, match=r"unknown country code 'XX'"):
            BusinessCalendar(country="XX")

    def test_unknown_subdivision_names_it(self):
        with pytest.raises(CalendarError, match=r"unknown subdivision 'ZZ'"):
            BusinessCalendar(country="US", subdiv="ZZ")


class TestCompanyDays:
    def test_working_saturday_wins(self):
        cal = BusinessCalendar(country="JP", working=["2024-03-30", "2024-05-03"])
        assert cal.is_business_day("2024-03-30")  # Saturday
        assert cal.is_business_day("2024-05-03")  # Constitution Day, declared a working day
        assert not cal.is_business_day("2024-03-31")

    def test_closed_dates_and_ranges(self):
        cal = BusinessCalendar(closed=["2024-08-13", "2024-08-14/2024-08-16", ("2024-09-02", "2024-09-03")])
        for d in ("2024-08-13", "2024-08-14", "2024-08-15", "2024-08-16", "2024-09-02", "2024-09-03"):
            assert not cal.is_business_day(d), d
        assert cal.is_business_day("2024-08-12") and cal.is_business_day("2024-09-04")

    def test_custom_weekly_closed(self):
        cal = BusinessCalendar(weekly_closed=["fri", "Saturday"])
        assert not cal.is_business_day("2024-03-01")  # Friday
        assert not cal.is_business_day("2024-03-02")
        assert cal.is_business_day("2024-03-03")  # Sunday
        assert BusinessCalendar(weekly_closed=[]).is_business_day("2024-03-02")
        assert not BusinessCalendar(weekly_closed=[6]).is_business_day("2024-03-03")

    def test_annual_single_day_and_feb29(self):
        cal = BusinessCalendar(annual_closed=["05-01", "02-28/02-29"])
        assert not cal.is_business_day("2024-05-01")
        assert not cal.is_business_day("2024-02-29")
        assert not cal.is_business_day("2023-02-28")
        assert cal.is_business_day("2023-03-01")

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"weekly_closed": ["funday"]}, "unknown weekday 'funday'"),
            ({"weekly_closed": [7]}, "weekday number 7"),
            ({"closed": ["2024-13-01"]}, "closed: invalid date '2024-13-01'"),
            ({"closed": ["2024-03-05/2024-03-01"]}, "ends before it starts"),
            ({"annual_closed": ["13-01"]}, "annual_closed: invalid month-day '13-01'"),
            ({"working": ["tomorrow"]}, "working: invalid date 'tomorrow'"),
            ({"country": ""}, "invalid country code"),
        ],
    )
    def test_bad_values(self, kwargs, match):
        with pytest.raises(CalendarError, match=match):
            BusinessCalendar(**kwargs)


class TestNavigation:
    def test_next_previous(self, jp):
        assert jp.next_business_day("2023-12-28") == D("2024-01-04")
        assert jp.previous_business_day("2024-01-04") == D("2023-12-28")
        assert jp.next_business_day("2024-02-09") == D("2024-02-13")
        assert jp.next_business_day("2024-02-13") == D("2024-02-14")  # strictly after
        assert jp.roll_forward("2024-02-10") == D("2024-02-13")
        assert jp.roll_forward("2024-02-13") == D("2024-02-13")
        assert jp.roll_backward("2024-02-12") == D("2024-02-09")
        assert jp.next_business_day(dt.datetime(2024, 2, 9, 23, 0)) == D("2024-02-13")

    def test_add_business_days(self, jp):
        assert jp.add_business_days("2023-12-27", 2) == D("2024-01-04")
        assert jp.add_business_days("2024-01-04", -1) == D("2023-12-28")
        assert jp.add_business_days("2024-02-10", 1) == D("2024-02-13")  # counted from a closed day
        assert jp.add_business_days("2024-02-10", 0) == D("2024-02-13")
        assert jp.add_business_days("2024-02-13", -1) == D("2024-02-09")

    def test_nth_business_day(self, jp):
        assert jp.nth_business_day(2024, 1, 1) == D("2024-01-04")
        assert jp.nth_business_day(2024, 1, 3) == D("2024-01-09")  # 1/8 is Coming of Age Day
        assert jp.nth_business_day(2024, 1, -1) == D("2024-01-31")
        assert jp.nth_business_day(2023, 12, -1) == D("2023-12-28")
        assert jp.nth_business_day(2023, 12, -2) == D("2023-12-27")
        assert jp.nth_business_day(2024, 2, 25) is None
        with pytest.raises(CalendarError, match="non-zero"):
            jp.nth_business_day(2024, 2, 0)

    def test_nth_business_day_with_base_day(self, jp):
        # month of March 2024 starting on the 21st: 2024-03-21 .. 2024-04-20 (3/20 is a holiday)
        assert jp.period_bounds(2024, 3, 21) == (D("2024-03-21"), D("2024-04-20"))
        assert jp.nth_business_day(2024, 3, 1, base_day=21) == D("2024-03-21")
        assert jp.nth_business_day(2024, 3, -1, base_day=21) == D("2024-04-19")
        assert jp.nth_business_day(2024, 12, 1, base_day=21) == D("2024-12-23")
        assert jp.nth_business_day(2024, 12, -1, base_day=21) == D("2025-01-20")
        with pytest.raises(CalendarError, match="month start day 29"):
            jp.nth_business_day(2024, 3, 1, base_day=29)

    def test_scans_are_bounded(self):
        never = BusinessCalendar(weekly_closed=range(7))
        assert not never.is_business_day("2024-01-01")
        with pytest.raises(CalendarError, match="no business day within"):
            never.next_business_day("2024-01-01")
        assert never.nth_business_day(2024, 1, 1) is None


class TestCombined:
    def test_any_and_all(self):
        a = BusinessCalendar(weekly_closed=["sat", "sun"], closed=["2024-03-04"], name="a")
        b = BusinessCalendar(weekly_closed=["sun", "mon"], name="b")
        any_ = CombinedCalendar([a, b], mode="any")
        all_ = a & b
        assert (a | b) == any_
        assert not any_.is_business_day("2024-03-02")  # Sat: closed in a
        assert all_.is_business_day("2024-03-02")  # Sat: open in b
        assert not all_.is_business_day("2024-03-03")  # Sun: closed in both
        assert not any_.is_business_day("2024-03-04") and not all_.is_business_day("2024-03-04")
        assert any_.is_business_day("2024-03-05")
        assert any_.name == "a+b" and all_.name == "a&b"

    def test_round_trip_and_bad_mode(self):
        jp = BusinessCalendar(country="JP")
        comb = CombinedCalendar([jp, BusinessCalendar(country="US")], mode="all", name="jp-us")
        again = calendar_from_dict(json.loads(json.dumps(comb.to_dict())))
        assert again == comb
        assert all(
            again.is_business_day(d) == comb.is_business_day(d)
            for d in comb.business_days_between("2024-01-01", "2024-03-31")
        )
        with pytest.raises(CalendarError, match="mode 'some'"):
            CombinedCalendar([jp], mode="some")


class TestFiles:
    def test_json_file(self, tmp_path):
        path = tmp_path / "cal.json"
        path.write_text(
            json.dumps(
                {"name": "x", "country": "JP", "annual_closed": ["12-29/01-03"], "working": ["2024-03-30"]}
            )
        )
        cal = load_calendar(path)
        assert cal.name == "x" and cal.is_business_day("2024-03-30") and not cal.is_business_day("2024-12-30")
        assert calendar_from_dict(str(path)) == cal

    def test_yaml_file(self, tmp_path):
        path = tmp_path / "cal.yaml"
        path.write_text("country: JP\nweekly_closed: [sun]\nclosed:\n  - 2024-08-13/2024-08-15\n")
        cal = load_calendar(path)
        assert cal.is_business_day("2024-03-02") and not cal.is_business_day("2024-08-14")

    def test_combined_file_with_relative_paths(self, tmp_path):
        (tmp_path / "jp.json").write_text(json.dumps({"country": "JP"}))
        (tmp_path / "comb.json").write_text(
            json.dumps({"mode": "any", "calendars": ["jp.json", {"closed": ["2024-03-05"], "name": "co"}]})
        )
        cal = load_calendar(tmp_path / "comb.json")
        assert isinstance(cal, CombinedCalendar)
        assert not cal.is_business_day("2024-03-05") and not cal.is_business_day("2024-03-20")

    @pytest.mark.parametrize(
        ("content", "match"),
        [
            ('{"country": "JP",', "malformed"),
            ('{"country": "JP", "holidayz": []}', r"unknown key\(s\) \['holidayz'\]"),
            ('{"country": "QQ"}', "unknown country code 'QQ'"),
            ('["JP"]', "must be an object"),
            ('{"closed": ["2024-02-30"]}', "invalid date '2024-02-30'"),
        ],
    )
    def test_malformed_file_names_the_file(self, tmp_path, content, match):
        path = tmp_path / "bad.json"
        path.write_text(content)
        with pytest.raises(CalendarError, match=match) as exc:
            load_calendar(path)
        assert "bad.json" in str(exc.value)

    def test_missing_file(self, tmp_path):
        with pytest.raises(CalendarError, match="cannot be read"):
            load_calendar(tmp_path / "nope.json")


def test_copy_pickle_and_equality(jp):
    jp.is_business_day("2024-01-01")
    for other in (copy.deepcopy(jp), pickle.loads(pickle.dumps(jp)), calendar_from_dict(jp.to_dict())):
        assert other == jp and hash(other) == hash(jp)
        assert other.is_business_day("2024-01-04") and not other.is_business_day("2024-01-03")
    assert "12/29-01/03" in jp.describe() and "JP national holidays" in jp.describe()
