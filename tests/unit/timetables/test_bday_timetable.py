"""Unit tests of airflow_restjob.timetables.business_day.BusinessDayTimetable (rules, DST, catchup, bad input)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
import time

import pendulum
import pytest
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DataInterval, TimeRestriction

from airflow_restjob.timetables import business_day as tt_mod
from airflow_restjob.timetables.business_calendar import BusinessCalendar
from airflow_restjob.timetables.business_day import BusinessDayTimetable as T

TOKYO = "Asia/Tokyo"


def tokyo(*args) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz=TOKYO)


@pytest.fixture(scope="module")
def jp() -> BusinessCalendar:
    return BusinessCalendar(country="JP", annual_closed=["12-29/01-03"])


def runs(t: T, start, count: int) -> list[pendulum.DateTime]:
    out, last = [], None
    restriction = TimeRestriction(earliest=start, latest=None, catchup=True)
    for _ in range(count):
        info = t.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        out.append(info.run_after.in_timezone(t.timezone))
        last = info.data_interval
    return out


def local(values) -> list[str]:
    return [v.strftime("%Y-%m-%d %H:%M") for v in values]


class TestRules:
    def test_every_business_day(self, jp):
        t = T.every_business_day(jp, at="06:00", timezone=TOKYO)
        assert local(runs(t, tokyo(2023, 12, 27), 4)) == [
            "2023-12-27 06:00",
            "2023-12-28 06:00",
            "2024-01-04 06:00",
            "2024-01-05 06:00",
        ]
        assert local(runs(t, tokyo(2024, 2, 9, 7), 2)) == ["2024-02-13 06:00", "2024-02-14 06:00"]

    def test_nth_business_day(self, jp):
        assert local(runs(T.nth_business_day(jp, 3, at="06:00", timezone=TOKYO), tokyo(2024, 1, 1), 3)) == [
            "2024-01-09 06:00",
            "2024-02-05 06:00",
            "2024-03-05 06:00",
        ]
        assert local(runs(T.nth_business_day(jp, 1, timezone=TOKYO), tokyo(2023, 12, 15), 2)) == [
            "2024-01-04 00:00",
            "2024-02-01 00:00",
        ]
        assert local(runs(T.nth_business_day(jp, -1, timezone=TOKYO), tokyo(2023, 12, 1), 2)) == [
            "2023-12-28 00:00",
            "2024-01-31 00:00",
        ]
        assert local(runs(T.nth_business_day(jp, -2, timezone=TOKYO), tokyo(2024, 4, 1), 2)) == [
            "2024-04-26 00:00",  # 4/29 Showa Day
            "2024-05-30 00:00",
        ]

    def test_month_start_day(self, jp):
        t = T.nth_business_day(jp, 1, month_start_day=21, at="09:00", timezone=TOKYO)
        assert local(runs(t, tokyo(2024, 3, 1), 3)) == [
            "2024-03-21 09:00",  # 3/20 Vernal Equinox Day is in the February month
            "2024-04-22 09:00",  # 4/21 is a Sunday
            "2024-05-21 09:00",
        ]
        assert "from the 21st" in t.summary

    def test_day_of_month_shifts(self, jp):
        start = tokyo(2024, 4, 1)
        prev = T.day_of_month(jp, 25, shift="previous", timezone=TOKYO)
        nxt = T.day_of_month(jp, 25, shift="next", timezone=TOKYO)
        skip = T.day_of_month(jp, 25, shift="skip", timezone=TOKYO)
        anyway = T.day_of_month(jp, 25, shift="run_anyway", timezone=TOKYO)
        # 2024-05-25 is a Saturday, 2024-08-25 a Sunday
        assert local(runs(prev, start, 5))[1::3] == ["2024-05-24 00:00", "2024-08-23 00:00"]
        assert local(runs(nxt, start, 5))[1::3] == ["2024-05-27 00:00", "2024-08-26 00:00"]
        assert local(runs(skip, start, 3)) == ["2024-04-25 00:00", "2024-06-25 00:00", "2024-07-25 00:00"]
        assert local(runs(anyway, start, 2)) == ["2024-04-25 00:00", "2024-05-25 00:00"]

    def test_max_shift_and_within_month(self, jp):
        # 2025-01-01: closed 1/1-1/3, 1/4-5 weekend -> next business day 1/6 is a 5-day shift
        limited = T.day_of_month(jp, 1, shift="next", max_shift=4, timezone=TOKYO)
        assert local(runs(limited, tokyo(2024, 12, 2), 2)) == ["2024-12-02 00:00", "2025-02-03 00:00"]
        unlimited = T.day_of_month(jp, 1, shift="next", timezone=TOKYO)
        assert local(runs(unlimited, tokyo(2024, 12, 2), 2)) == ["2024-12-02 00:00", "2025-01-06 00:00"]
        inside = T.day_of_month(jp, 1, shift="previous", within_month=True, timezone=TOKYO)
        # a closed 1st would move into the previous month: with within_month those runs are dropped
        # (2024-12-01 Sun, 2025-01-01 holiday, 2025-02-01 Sat, 2025-03-01 Sat, 2025-06-01 Sun)
        assert local(runs(inside, tokyo(2024, 10, 2), 4)) == [
            "2024-11-01 00:00",
            "2025-04-01 00:00",
            "2025-05-01 00:00",
            "2025-07-01 00:00",
        ]

    def test_last_day_and_clamping(self, jp):
        last = T.day_of_month(jp, -1, shift="previous", timezone=TOKYO)
        assert local(runs(last, tokyo(2024, 2, 1), 2)) == ["2024-02-29 00:00", "2024-03-29 00:00"]
        thirty_one = T.day_of_month(jp, 31, shift="previous", timezone=TOKYO)
        assert local(runs(thirty_one, tokyo(2024, 2, 1), 1)) == ["2024-02-29 00:00"]
        assert last.summary.startswith("Last day monthly")

    def test_offset(self, jp):
        after = T.business_days_from(jp, day=10, offset=3, at="08:00", timezone=TOKYO)
        # 2024-02-10 (Sat) -> 2/13 (1; 2/12 substitute holiday), 2/14 (2), 2/15 (3)
        assert local(runs(after, tokyo(2024, 2, 1), 1)) == ["2024-02-15 08:00"]
        before = T.business_days_from(jp, day=1, offset=-2, timezone=TOKYO)
        # two business days before 2024-01-01: 12/28, 12/27
        assert local(runs(before, tokyo(2023, 12, 1), 1)) == ["2023-12-27 00:00"]
        assert after.summary == "3 business days after the 10th monthly at 08:00 (JP)"
        assert before.summary == "2 business days before the 1st monthly at 00:00 (JP)"

    def test_day_change(self, jp):
        # the business day ends at 05:00: the 02:00 run of business day Friday 2024-03-01 is on Saturday
        t = T.every_business_day(jp, at="02:00", day_change="05:00", timezone=TOKYO)
        assert local(runs(t, tokyo(2024, 3, 1, 3), 3)) == [
            "2024-03-02 02:00",
            "2024-03-05 02:00",
            "2024-03-06 02:00",
        ]
        # ... and the Thursday run is on Friday 02:00
        assert local(runs(t, tokyo(2024, 3, 1), 1)) == ["2024-03-01 02:00"]
        # a time after the day change stays on the same day
        t2 = T.every_business_day(jp, at="06:00", day_change="05:00", timezone=TOKYO)
        assert local(runs(t2, tokyo(2024, 3, 1), 2)) == ["2024-03-01 06:00", "2024-03-04 06:00"]
        assert "ends at 05:00" in t.description


class TestTimezones:
    def test_dst_new_york(self):
        us = BusinessCalendar(country="US")
        t = T.every_business_day(us, at="09:30", timezone="America/New_York")
        got = runs(t, pendulum.datetime(2024, 3, 7, tz="UTC"), 3)
        utc = [g.in_timezone("UTC").strftime("%m-%d %H:%M") for g in got]
        assert utc == ["03-07 14:30", "03-08 14:30", "03-11 13:30"]  # EST -> EDT
        got = runs(t, pendulum.datetime(2024, 11, 1, tz="UTC"), 2)
        assert [g.in_timezone("UTC").strftime("%m-%d %H:%M") for g in got] == ["11-01 13:30", "11-04 14:30"]

    def test_nonexistent_and_ambiguous_times(self):
        every_day = BusinessCalendar(weekly_closed=[])
        gap = T.every_business_day(every_day, at="02:30", timezone="America/New_York")
        assert gap.run_time(dt.date(2024, 3, 10)) == pendulum.datetime(2024, 3, 10, 7, 30)  # 03:30 EDT
        amb = T.every_business_day(every_day, at="01:30", timezone="America/New_York")
        assert amb.run_time(dt.date(2024, 11, 3)) == pendulum.datetime(2024, 11, 3, 5, 30)  # first 01:30
        # exactly one run per day around both transitions
        r = runs(gap, pendulum.datetime(2024, 3, 9, tz="UTC"), 3)
        assert [x.day for x in r] == [9, 10, 11]

    def test_tokyo_run_in_utc(self, jp):
        t = T.every_business_day(jp, at="06:00", timezone=TOKYO)
        info = t.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(
                earliest=pendulum.datetime(2024, 3, 4, tz="UTC"), latest=None, catchup=True
            ),
        )
        assert info.run_after == pendulum.datetime(2024, 3, 4, 21, 0)  # 2024-03-05 06:00 JST
        assert info.run_after.tzinfo is not None


class TestSchedulingSemantics:
    @pytest.fixture
    def daily(self, jp):
        return T.every_business_day(jp, at="06:00", timezone=TOKYO)

    def test_data_interval_previous_run(self, daily):
        info = daily.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=tokyo(2024, 1, 4), latest=None, catchup=True),
        )
        assert info.data_interval == DataInterval(tokyo(2023, 12, 28, 6), tokyo(2024, 1, 4, 6))
        assert info.run_after == tokyo(2024, 1, 4, 6)
        assert info.logical_date == tokyo(2023, 12, 28, 6)

    def test_earliest_is_inclusive_and_last_exclusive(self, daily):
        r = TimeRestriction(earliest=tokyo(2024, 3, 4, 6), latest=None, catchup=True)
        first = daily.next_dagrun_info(last_automated_data_interval=None, restriction=r)
        assert first.run_after == tokyo(2024, 3, 4, 6)
        second = daily.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=r)
        assert second.run_after == tokyo(2024, 3, 5, 6)

    def test_latest(self, daily):
        r = TimeRestriction(earliest=tokyo(2024, 3, 1), latest=tokyo(2024, 3, 4, 6), catchup=True)
        last = DataInterval(tokyo(2024, 3, 1, 6), tokyo(2024, 3, 4, 6))
        assert daily.next_dagrun_info(last_automated_data_interval=last, restriction=r) is None
        prev = DataInterval(tokyo(2024, 2, 29, 6), tokyo(2024, 3, 1, 6))
        assert daily.next_dagrun_info(last_automated_data_interval=prev, restriction=r).run_after == tokyo(
            2024, 3, 4, 6
        )

    def test_no_earliest_catchup_starts_at_now(self, daily, monkeypatch):
        monkeypatch.setattr(tt_mod, "_utcnow", lambda: tokyo(2024, 3, 6, 12))
        info = daily.next_dagrun_info(
            last_automated_data_interval=None, restriction=TimeRestriction(None, None, True)
        )
        assert info.run_after == tokyo(2024, 3, 7, 6)

    def test_catchup_false_runs_latest_missed_only(self, daily, monkeypatch):
        monkeypatch.setattr(tt_mod, "_utcnow", lambda: tokyo(2024, 3, 6, 12))
        r = TimeRestriction(earliest=tokyo(2024, 1, 1), latest=None, catchup=False)
        info = daily.next_dagrun_info(last_automated_data_interval=None, restriction=r)
        assert info.run_after == tokyo(2024, 3, 6, 6)
        old = DataInterval(tokyo(2024, 2, 1, 6), tokyo(2024, 2, 2, 6))
        assert daily.next_dagrun_info(last_automated_data_interval=old, restriction=r).run_after == tokyo(
            2024, 3, 6, 6
        )
        current = DataInterval(tokyo(2024, 3, 5, 6), tokyo(2024, 3, 6, 6))
        assert daily.next_dagrun_info(last_automated_data_interval=current, restriction=r).run_after == tokyo(
            2024, 3, 7, 6
        )
        future = TimeRestriction(earliest=tokyo(2024, 4, 1), latest=None, catchup=False)
        assert daily.next_dagrun_info(
            last_automated_data_interval=None, restriction=future
        ).run_after == tokyo(2024, 4, 1, 6)
        # no start_date and nothing run yet: wait for the next run (CronTriggerTimetable behaviour)
        none = TimeRestriction(earliest=None, latest=None, catchup=False)
        assert daily.next_dagrun_info(last_automated_data_interval=None, restriction=none).run_after == tokyo(
            2024, 3, 7, 6
        )

    def test_catchup_true_backfills_every_run(self, daily, monkeypatch):
        monkeypatch.setattr(tt_mod, "_utcnow", lambda: tokyo(2024, 3, 6, 12))
        r = TimeRestriction(earliest=tokyo(2024, 2, 8), latest=None, catchup=True)
        assert local(runs(daily, tokyo(2024, 2, 8), 3)) == [
            "2024-02-08 06:00",
            "2024-02-09 06:00",
            "2024-02-13 06:00",
        ]
        assert daily.next_dagrun_info(last_automated_data_interval=None, restriction=r).run_after == tokyo(
            2024, 2, 8, 6
        )

    def test_infer_manual_data_interval(self, daily):
        between = daily.infer_manual_data_interval(run_after=tokyo(2024, 2, 12, 15))
        assert between == DataInterval(tokyo(2024, 2, 9, 6), tokyo(2024, 2, 12, 15))
        at_run = daily.infer_manual_data_interval(run_after=tokyo(2024, 2, 13, 6))
        assert at_run == DataInterval(tokyo(2024, 2, 9, 6), tokyo(2024, 2, 13, 6))

    def test_exact_mode(self, jp):
        t = T.every_business_day(jp, at="06:00", timezone=TOKYO, data_interval="exact")
        info = t.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=tokyo(2024, 1, 4), latest=None, catchup=True),
        )
        assert info.logical_date == info.run_after == tokyo(2024, 1, 4, 6)
        assert t.infer_manual_data_interval(run_after=tokyo(2024, 1, 5)) == DataInterval.exact(
            tokyo(2024, 1, 5)
        )

    def test_never_running_rule_is_bounded(self):
        closed_for_years = BusinessCalendar(closed=["2024-01-01/2060-12-31"])
        t = T.nth_business_day(closed_for_years, 1, timezone="UTC")
        start = time.perf_counter()
        info = t.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=pendulum.datetime(2024, 1, 1), latest=None, catchup=True),
        )
        assert info is None
        assert time.perf_counter() - start < 2
        closed = T.every_business_day(BusinessCalendar(weekly_closed=range(7)))
        assert (
            closed.next_dagrun_info(
                last_automated_data_interval=None,
                restriction=TimeRestriction(
                    earliest=pendulum.datetime(2024, 1, 1), latest=None, catchup=True
                ),
            )
            is None
        )


class TestTexts:
    def test_summaries(self, jp):
        jp_named = BusinessCalendar(country="JP")
        assert T.nth_business_day(jp_named, 3, at="06:00", timezone=TOKYO).summary == (
            "3rd business day monthly at 06:00 (JP)"
        )
        assert T.nth_business_day(jp, 1).summary == "1st business day monthly at 00:00 (JP)"
        assert T.nth_business_day(jp, -1).summary == "Last business day monthly at 00:00 (JP)"
        assert T.nth_business_day(jp, -2).summary == "2nd-to-last business day monthly at 00:00 (JP)"
        assert T.nth_business_day(jp, 11).summary.startswith("11th business day")
        assert T.every_business_day(jp, at="06:00").summary == "Every business day at 06:00 (JP)"
        assert T.day_of_month(jp, 25, shift="previous", at="06:00").summary == (
            "25th monthly at 06:00 (JP), if closed: previous business day"
        )
        d = T.day_of_month(jp, 25, max_shift=3, timezone=TOKYO).description
        assert "Asia/Tokyo" in d and "at most 3 days" in d and "12/29-01/03" in d


class TestSerialization:
    def test_round_trip_json(self, jp, tmp_path):
        path = tmp_path / "cal.json"
        path.write_text(json.dumps({"country": "JP", "annual_closed": ["12-29/01-03"], "name": "file-cal"}))
        cases = [
            T.every_business_day(jp, at="06:00:30", timezone=TOKYO, day_change="05:00"),
            T.nth_business_day(jp | BusinessCalendar(country="US"), -2, month_start_day=21),
            T.day_of_month(
                str(path), 25, shift="next", max_shift=3, within_month=True, data_interval="exact"
            ),
            T.business_days_from(jp & BusinessCalendar(weekly_closed=["fri"]), day=-1, offset=-3),
        ]
        for t in cases:
            data = json.loads(json.dumps(t.serialize()))
            back = T.deserialize(data)
            assert back == t and back.summary == t.summary and back.description == t.description
            assert back.serialize() == t.serialize()
            r = TimeRestriction(earliest=pendulum.datetime(2024, 1, 1), latest=None, catchup=True)
            assert runs(back, pendulum.datetime(2024, 1, 1), 5) == runs(t, pendulum.datetime(2024, 1, 1), 5)
            assert back.next_dagrun_info(last_automated_data_interval=None, restriction=r) is not None
        # the file's content is embedded: no file needed to rebuild
        data = cases[2].serialize()
        path.unlink()
        assert T.deserialize(data).calendar.name == "file-cal"

    def test_copy_and_pickle(self, jp):
        t = T.day_of_month(jp, 25, timezone=TOKYO)
        for other in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
            assert other == t
            assert runs(other, tokyo(2024, 5, 1), 2) == runs(t, tokyo(2024, 5, 1), 2)


class TestBadInput:
    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            (
                {"rule": "nth_business_day", "n": 25},
                r"rule 'nth_business_day': n=25 cannot exist.*at most 23",
            ),
            ({"rule": "nth_business_day", "n": -24}, r"n=-24 cannot exist"),
            ({"rule": "nth_business_day", "n": 0}, r"n=0 cannot exist"),
            (
                {"rule": "nth_business_day", "n": 2, "month_start_day": 29},
                r"month_start_day=29 must be 1..28",
            ),
            ({"rule": "nth_business_day"}, r"n=None must be an integer"),
            (
                {"rule": "day_of_month", "day": 25, "max_shift": 100},
                r"rule 'day_of_month': max_shift=100 exceeds",
            ),
            ({"rule": "day_of_month", "day": 25, "max_shift": -1}, r"max_shift=-1 exceeds"),
            ({"rule": "day_of_month", "day": 32}, r"day=32 must be 1..31"),
            ({"rule": "day_of_month", "day": 25, "shift": "sideways"}, r"shift='sideways'"),
            ({"rule": "offset", "day": 10, "n": 0}, r"rule 'offset': offset n=0"),
            ({"rule": "offset", "day": 10, "n": 100}, r"offset n=100"),
            ({"rule": "every_business_day", "n": 3}, r"n=3 does not apply"),
            ({"rule": "monthly"}, r"unknown rule 'monthly'"),
            ({"timezone": "Mars/Olympus"}, r"rule 'every_business_day': invalid timezone 'Mars/Olympus'"),
            ({"at": "25:00"}, r"at='25:00' is not a time of day"),
            ({"day_change": "5am"}, r"day_change='5am'"),
            ({"data_interval": "weekly"}, r"data_interval='weekly'"),
        ],
    )
    def test_rejected_with_rule_and_value(self, jp, kwargs, match):
        with pytest.raises(AirflowTimetableInvalid, match=match):
            T(jp, **kwargs)

    def test_unknown_country(self):
        with pytest.raises(
            AirflowTimetableInvalid, match=r"rule 'every_business_day'.*unknown country code 'ZZ'"
        ):
            T({"country": "ZZ"})

    def test_malformed_calendar_file(self, tmp_path):
        path = tmp_path / "broken.json"
        path.write_text('{"country": "JP", "closed": [')
        with pytest.raises(AirflowTimetableInvalid, match=r"rule 'nth_business_day'.*broken.json.*malformed"):
            T.nth_business_day(str(path), 3)
        with pytest.raises(AirflowTimetableInvalid, match="cannot be read"):
            T.every_business_day(tmp_path / "missing.json")

    def test_validate(self, jp):
        t = T.nth_business_day(jp, 3)
        t.validate()
        t.n = 40
        t._raw["n"] = 40
        with pytest.raises(AirflowTimetableInvalid, match="n=40"):
            t.validate()
