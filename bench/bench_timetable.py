"""Benchmark of BusinessDayTimetable.next_dagrun_info (issue 6).

Targets: < 1 ms per next_dagrun_info call after warm-up; < 100 ms for a year of runs.

    python bench/bench_timetable.py
"""

from __future__ import annotations

import statistics
import time

import pendulum
from airflow.timetables.base import TimeRestriction

from airflow_restjob.timetables.business_calendar import BusinessCalendar
from airflow_restjob.timetables.business_day import BusinessDayTimetable

CALLS = 2000


def per_call_ms(tt: BusinessDayTimetable) -> tuple[float, float]:
    """Median and p99 of single next_dagrun_info calls that continue from a previous run."""
    r = TimeRestriction(earliest=pendulum.datetime(2025, 1, 1, tz=tt.timezone), latest=None, catchup=True)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=r)
    intervals = []
    last = first.data_interval
    for _ in range(200):
        info = tt.next_dagrun_info(last_automated_data_interval=last, restriction=r)
        intervals.append(last)
        last = info.data_interval
    for interval in intervals:  # warm-up (calendar years cached)
        tt.next_dagrun_info(last_automated_data_interval=interval, restriction=r)
    samples = []
    for i in range(CALLS):
        interval = intervals[i % len(intervals)]
        t0 = time.perf_counter()
        tt.next_dagrun_info(last_automated_data_interval=interval, restriction=r)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


def year_ms(tt: BusinessDayTimetable, year: int = 2026) -> tuple[float, int]:
    """Time to produce every run of one year by chaining next_dagrun_info (the catchup path)."""
    r = TimeRestriction(
        earliest=pendulum.datetime(year, 1, 1, tz=tt.timezone),
        latest=pendulum.datetime(year, 12, 31, 23, 59, tz=tt.timezone),
        catchup=True,
    )
    t0 = time.perf_counter()
    count, last = 0, None
    while (info := tt.next_dagrun_info(last_automated_data_interval=last, restriction=r)) is not None:
        count += 1
        last = info.data_interval
    return (time.perf_counter() - t0) * 1000, count


def main() -> None:
    jp = BusinessCalendar(country="JP", annual_closed=["12-29/01-03"], name="rental-car")
    jp.is_business_day("2026-01-01")  # calendar years are built lazily; warm the ones used below
    for y in range(2024, 2029):
        jp.is_business_day(f"{y}-06-01")
    cases = {
        "daily (every business day 06:00 JST)": BusinessDayTimetable.every_business_day(
            jp, at="06:00", timezone="Asia/Tokyo"
        ),
        "monthly (3rd business day)": BusinessDayTimetable.nth_business_day(
            jp, 3, at="06:00", timezone="Asia/Tokyo"
        ),
        "monthly (25th, previous business day)": BusinessDayTimetable.day_of_month(
            jp, 25, shift="previous", at="06:00", timezone="Asia/Tokyo"
        ),
        "monthly (2nd-to-last from the 21st)": BusinessDayTimetable.nth_business_day(
            jp, -2, month_start_day=21, at="06:00", timezone="Asia/Tokyo"
        ),
    }
    print(f"{'rule':42} {'median ms/call':>15} {'p99 ms/call':>12} {'year ms':>9} {'runs':>5}")
    worst_call = worst_year = 0.0
    for name, tt in cases.items():
        median, p99 = per_call_ms(tt)
        year, runs = year_ms(tt)
        worst_call, worst_year = max(worst_call, median), max(worst_year, year)
        print(f"{name:42} {median:15.3f} {p99:12.3f} {year:9.1f} {runs:5d}")
    t0 = time.perf_counter()
    cold_cal = BusinessCalendar(country="JP", annual_closed=["12-29/01-03"])
    cold = BusinessDayTimetable.every_business_day(cold_cal, at="06:00", timezone="Asia/Tokyo")
    cold.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=pendulum.datetime(2026, 3, 1), latest=None, catchup=True),
    )
    print(f"cold first call (new calendar, builds its years): {(time.perf_counter() - t0) * 1000:.1f} ms")
    ok = worst_call < 1 and worst_year < 100
    print(
        f"targets: < 1 ms/call (worst median {worst_call:.3f}), < 100 ms/year (worst {worst_year:.1f}): "
        f"{'OK' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
