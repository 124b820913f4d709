"""Independent peer check: every run the timetable produces for 2020-2035 equals numpy's answer.

The timetable is iterated through ``next_dagrun_info`` over the whole range (catchup, like the
scheduler does it); the expected run dates are computed with numpy's ``is_busday`` /
``busday_offset`` from a holiday list built here directly from the ``holidays`` library and the
closure definitions, and the expected run instants with ``zoneinfo`` (not pendulum).
"""

from __future__ import annotations

import calendar as stdcal
import datetime as dt
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pendulum
import pytest
from airflow.timetables.base import TimeRestriction

from airflow_restjob.timetables.business_calendar import BusinessCalendar, CombinedCalendar
from airflow_restjob.timetables.business_day import BusinessDayTimetable

FIRST, LAST = dt.date(2020, 1, 1), dt.date(2035, 12, 31)
YEARS = range(2019, 2037)
ALL_DAYS = [
    dt.date.fromordinal(o)
    for o in range(dt.date(2019, 1, 1).toordinal(), dt.date(2036, 12, 31).toordinal() + 1)
]


def annual(md_from: tuple[int, int], md_to: tuple[int, int]) -> set[dt.date]:
    out = set()
    for d in ALL_DAYS:
        md = (d.month, d.day)
        inside = md_from <= md <= md_to if md_from <= md_to else (md >= md_from or md <= md_to)
        if inside:
            out.add(d)
    return out


def national(country: str, subdiv: str | None = None) -> set[dt.date]:
    return set(holidays.country_holidays(country, subdiv=subdiv, years=YEARS).keys())


class Peer:
    """numpy business-day calendar built from an explicit closed-day list."""

    def __init__(self, weekmask: str, closed: set[dt.date]):
        self.bdc = np.busdaycalendar(weekmask=weekmask, holidays=sorted(closed))

    def is_bd(self, d: dt.date) -> bool:
        return bool(np.is_busday(d, busdaycal=self.bdc))

    def off(self, d: dt.date, n: int, roll: str) -> dt.date:
        return np.busday_offset(d, n, roll=roll, busdaycal=self.bdc).astype(object)

    # --- rules ---------------------------------------------------------------------------------
    def months(self):
        for y in range(FIRST.year - 1, LAST.year + 2):
            for m in range(1, 13):
                yield y, m

    def every(self) -> list[dt.date]:
        return [d for d in ALL_DAYS if self.is_bd(d)]

    def nth(self, n: int, base: int = 1) -> list[dt.date]:
        out = []
        for y, m in self.months():
            start = dt.date(y, m, base)
            ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
            end = dt.date(ny, nm, base) - dt.timedelta(days=1)
            d = self.off(start, n - 1, "forward") if n > 0 else self.off(end, n + 1, "backward")
            if start <= d <= end:
                out.append(d)
        return out

    def dom(self, day: int, shift: str, max_shift: int | None = None, within: bool = False) -> list[dt.date]:
        out = []
        for y, m in self.months():
            last = stdcal.monthrange(y, m)[1]
            t = dt.date(y, m, last if day == -1 else min(day, last))
            if self.is_bd(t) or shift == "run_anyway":
                d = t
            elif shift == "skip":
                continue
            else:
                d = self.off(t, 0, "backward" if shift == "previous" else "forward")
                if max_shift is not None and abs((d - t).days) > max_shift:
                    continue
            if within and (d.year, d.month) != (y, m):
                continue
            out.append(d)
        return sorted(set(out))

    def offset(self, day: int, n: int, within: bool = False) -> list[dt.date]:
        out = []
        for y, m in self.months():
            last = stdcal.monthrange(y, m)[1]
            t = dt.date(y, m, last if day == -1 else min(day, last))
            # n business days strictly after/before t
            d = self.off(t, n, "backward" if n > 0 else "forward")
            if within and (d.year, d.month) != (y, m):
                continue
            out.append(d)
        return sorted(set(out))


def run_dates(tt: BusinessDayTimetable) -> list[dt.date]:
    """Iterate next_dagrun_info over the range and return the schedule dates of the runs."""
    tz = ZoneInfo(tt.timezone)
    restriction = TimeRestriction(
        earliest=pendulum.datetime(FIRST.year, FIRST.month, FIRST.day, tz=tt.timezone),
        latest=pendulum.datetime(LAST.year, LAST.month, LAST.day, 23, 59, 59, tz=tt.timezone),
        catchup=True,
    )
    out, last = [], None
    for _ in range(10_000):
        info = tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            break
        if last is not None:
            assert info.data_interval.start == last.end  # previous business run -> this run
        assert info.run_after == info.data_interval.end
        local = info.run_after.astimezone(tz)
        day = local.date() - (dt.timedelta(days=1) if tt.at < tt.day_change else dt.timedelta())
        # the run instant, recomputed with zoneinfo
        wall = dt.datetime.combine(local.date(), tt.at, tzinfo=tz)
        assert info.run_after == wall.astimezone(dt.timezone.utc), (day, info.run_after)
        out.append(day)
        last = info.data_interval
    return out


def in_range(dates: list[dt.date], tt: BusinessDayTimetable) -> list[dt.date]:
    # The restriction bounds the local *run* day; convert a schedule date to its run day.
    shift = dt.timedelta(days=1) if tt.at < tt.day_change else dt.timedelta()
    return [d for d in dates if FIRST <= d + shift <= LAST]


JP_CLOSED = national("JP") | annual((12, 29), (1, 3))
US_CLOSED = national("US")
CUSTOM_WORKING = {dt.date(2021, 3, 7), dt.date(2024, 6, 2), dt.date(2024, 8, 13), dt.date(2030, 12, 31)}
CUSTOM_RANGES = [("2022-05-02", "2022-05-06"), ("2027-11-15", "2027-11-19")]


def custom_closed() -> set[dt.date]:
    closed = {d for d in ALL_DAYS if d.weekday() == 6}  # weekly closed: Sunday
    closed |= annual((8, 13), (8, 16)) | annual((12, 31), (1, 2)) | national("JP")
    for a, b in CUSTOM_RANGES:
        a_, b_ = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
        closed |= {d for d in ALL_DAYS if a_ <= d <= b_}
    return closed - CUSTOM_WORKING


def make_jp():
    return BusinessCalendar(country="JP", annual_closed=["12-29/01-03"]), Peer("1111100", JP_CLOSED)


def make_us():
    return BusinessCalendar(country="US"), Peer("1111100", US_CLOSED)


def make_custom():
    cal = BusinessCalendar(
        country="JP",
        weekly_closed=["sun"],
        annual_closed=["08-13/08-16", "12-31/01-02"],
        closed=[f"{a}/{b}" for a, b in CUSTOM_RANGES],
        working=sorted(d.isoformat() for d in CUSTOM_WORKING),
        name="custom",
    )
    # all closed days are explicit numpy holidays: the weekmask cannot express working Sundays
    return cal, Peer("1111111", custom_closed())


def make_jp_or_us():
    cal = CombinedCalendar([BusinessCalendar(country="JP"), BusinessCalendar(country="US")], mode="any")
    return cal, Peer("1111100", national("JP") | US_CLOSED)


CASES = {
    "jp": (
        make_jp,
        [
            ({"rule": "every_business_day", "at": "06:00", "timezone": "Asia/Tokyo"}, lambda p: p.every()),
            (
                {"rule": "nth_business_day", "n": 1, "at": "06:00", "timezone": "Asia/Tokyo"},
                lambda p: p.nth(1),
            ),
            (
                {"rule": "nth_business_day", "n": 3, "at": "06:00", "timezone": "Asia/Tokyo"},
                lambda p: p.nth(3),
            ),
            ({"rule": "nth_business_day", "n": -1, "timezone": "Asia/Tokyo"}, lambda p: p.nth(-1)),
            ({"rule": "nth_business_day", "n": -2, "timezone": "Asia/Tokyo"}, lambda p: p.nth(-2)),
            (
                {"rule": "nth_business_day", "n": 2, "month_start_day": 21, "timezone": "Asia/Tokyo"},
                lambda p: p.nth(2, base=21),
            ),
            (
                {"rule": "nth_business_day", "n": -1, "month_start_day": 21, "timezone": "Asia/Tokyo"},
                lambda p: p.nth(-1, base=21),
            ),
            (
                {"rule": "day_of_month", "day": 25, "shift": "previous", "timezone": "Asia/Tokyo"},
                lambda p: p.dom(25, "previous"),
            ),
            (
                {"rule": "day_of_month", "day": 1, "shift": "next", "timezone": "Asia/Tokyo"},
                lambda p: p.dom(1, "next"),
            ),
            (
                {"rule": "day_of_month", "day": 1, "shift": "next", "max_shift": 2, "timezone": "Asia/Tokyo"},
                lambda p: p.dom(1, "next", max_shift=2),
            ),
            (
                {
                    "rule": "day_of_month",
                    "day": 1,
                    "shift": "previous",
                    "within_month": True,
                    "timezone": "Asia/Tokyo",
                },
                lambda p: p.dom(1, "previous", within=True),
            ),
            (
                {"rule": "day_of_month", "day": 31, "shift": "skip", "timezone": "Asia/Tokyo"},
                lambda p: p.dom(31, "skip"),
            ),
            (
                {"rule": "day_of_month", "day": 3, "shift": "run_anyway", "timezone": "Asia/Tokyo"},
                lambda p: p.dom(3, "run_anyway"),
            ),
            ({"rule": "offset", "day": 10, "n": 3, "timezone": "Asia/Tokyo"}, lambda p: p.offset(10, 3)),
            ({"rule": "offset", "day": 1, "n": -2, "timezone": "Asia/Tokyo"}, lambda p: p.offset(1, -2)),
            # long offsets: runs of neighbouring months interleave across month boundaries
            ({"rule": "offset", "day": 15, "n": 45, "timezone": "Asia/Tokyo"}, lambda p: p.offset(15, 45)),
            ({"rule": "offset", "day": 5, "n": -62, "timezone": "Asia/Tokyo"}, lambda p: p.offset(5, -62)),
            (
                {"rule": "offset", "day": 25, "n": 4, "within_month": True, "timezone": "Asia/Tokyo"},
                lambda p: p.offset(25, 4, within=True),
            ),
        ],
    ),
    "us": (
        make_us,
        [
            (
                {"rule": "every_business_day", "at": "09:30", "timezone": "America/New_York"},
                lambda p: p.every(),
            ),
            (
                {"rule": "nth_business_day", "n": 1, "at": "07:00", "timezone": "America/New_York"},
                lambda p: p.nth(1),
            ),
            (
                {"rule": "nth_business_day", "n": -1, "at": "17:00", "timezone": "America/New_York"},
                lambda p: p.nth(-1),
            ),
            (
                {
                    "rule": "day_of_month",
                    "day": 15,
                    "shift": "next",
                    "at": "08:00",
                    "timezone": "America/New_York",
                },
                lambda p: p.dom(15, "next"),
            ),
            (
                {"rule": "offset", "day": 5, "n": -1, "timezone": "America/New_York"},
                lambda p: p.offset(5, -1),
            ),
        ],
    ),
    "custom": (
        make_custom,
        [
            (
                {
                    "rule": "every_business_day",
                    "at": "02:00",
                    "day_change": "05:00",
                    "timezone": "Asia/Tokyo",
                },
                lambda p: p.every(),
            ),
            (
                {"rule": "nth_business_day", "n": 5, "at": "12:00", "timezone": "Europe/Berlin"},
                lambda p: p.nth(5),
            ),
            (
                {
                    "rule": "day_of_month",
                    "day": 20,
                    "shift": "previous",
                    "max_shift": 2,
                    "timezone": "Asia/Tokyo",
                },
                lambda p: p.dom(20, "previous", max_shift=2),
            ),
            ({"rule": "offset", "day": -1, "n": -3, "timezone": "Asia/Tokyo"}, lambda p: p.offset(-1, -3)),
        ],
    ),
    "jp_or_us": (
        make_jp_or_us,
        [
            ({"rule": "every_business_day", "at": "23:30", "timezone": "Asia/Tokyo"}, lambda p: p.every()),
            ({"rule": "nth_business_day", "n": 2, "timezone": "UTC"}, lambda p: p.nth(2)),
        ],
    ),
}

PARAMS = [
    pytest.param(name, i, id=f"{name}-{i}-{kwargs['rule']}")
    for name, (_, rules) in CASES.items()
    for i, (kwargs, _) in enumerate(rules)
]
_CALS: dict[str, tuple] = {}


@pytest.mark.parametrize(("name", "index"), PARAMS)
def test_timetable_matches_numpy(name, index):
    make, rules = CASES[name]
    if name not in _CALS:
        _CALS[name] = make()
    cal, peer = _CALS[name]
    kwargs, expected_fn = rules[index]
    tt = BusinessDayTimetable(cal, **kwargs)
    got = run_dates(tt)
    expected = in_range(expected_fn(peer), tt)
    assert len(got) > 0
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    assert not missing and not extra, f"{tt.summary}: missing {missing[:5]} extra {extra[:5]}"
    assert got == expected


def test_peer_calendar_agrees_day_by_day():
    for make in (make_jp, make_us, make_custom, make_jp_or_us):
        cal, peer = make()
        ours = [cal.is_business_day(d) for d in ALL_DAYS]
        theirs = np.is_busday(ALL_DAYS, busdaycal=peer.bdc).tolist()
        assert ours == theirs, make.__name__
