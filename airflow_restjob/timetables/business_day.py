"""Business-day timetable: schedule DAGs on an operations calendar (営業日).

``BusinessDayTimetable`` runs a DAG on business days of a :mod:`airflow_restjob.timetables.business_calendar` calendar,
by one of these rules (Systemwalker / Control-M / JP1 terms in brackets)::

    from airflow.sdk import DAG
    from airflow_restjob.timetables.business_calendar import BusinessCalendar
    from airflow_restjob.timetables.business_day import BusinessDayTimetable

    jp = BusinessCalendar(country="JP", annual_closed=["12-29/01-03"])
    BusinessDayTimetable.every_business_day(jp, at="06:00", timezone="Asia/Tokyo")
    BusinessDayTimetable.nth_business_day(jp, 3, at="06:00", timezone="Asia/Tokyo")     # [bnsday]
    BusinessDayTimetable.nth_business_day(jp, -1, month_start_day=21)                  # [bnsbase]
    BusinessDayTimetable.day_of_month(jp, 25, shift="previous", max_shift=5)            # [holidayshift]
    BusinessDayTimetable.business_days_from(jp, day=10, offset=3)                       # [offsetday]

or the general constructor ``BusinessDayTimetable(calendar, rule=..., ...)``:

rule ``"every_business_day"``
    every business day.
rule ``"nth_business_day"`` (``n``, ``month_start_day``)
    the n-th business day of each month; ``n < 0`` counts from the end (-1 last, -2 second to
    last). A month may start on ``month_start_day`` (1..28): with 21 the month of March is
    03-21..04-20. A month with fewer than ``abs(n)`` business days has no run.
rule ``"day_of_month"`` (``day``, ``shift``, ``max_shift``, ``within_month``)
    a fixed day (1..31, clamped to the month's last day; -1 = last day). If it is not a business
    day, ``shift`` decides: ``"previous"`` / ``"next"`` business day, ``"skip"`` (no run that
    month) or ``"run_anyway"``. ``max_shift`` (0..62 calendar days, default 62): a shift
    longer than that drops the run (a shift never adds a run, it only moves one). With
    ``within_month=True`` a shift out of the month drops the run.
rule ``"offset"`` (``day``, ``n``, ``within_month``)
    ``n`` business days after (``n > 0``) or before (``n < 0``) the ``day`` of each month
    (``1 <= abs(n) <= 62``), counted strictly from the base day.

Common options: ``at`` (run time "HH:MM[:SS]", default "00:00"), ``timezone`` (IANA name, default
"UTC"; DST-correct: a local time that does not exist on a DST-start day moves forward by the
gap, an ambiguous one on a DST-end day is its first occurrence), ``day_change`` ("HH:MM", default "00:00"): a business day lasts from
``day_change`` to ``day_change`` of the next calendar day, so with ``day_change="05:00"`` and
``at="02:00"`` the run of business day Friday happens on Saturday 02:00.

Data interval and logical date: by default (``data_interval="previous_run"``) a run's data
interval is *previous business-day run -> this run* and it is created at the end of the interval
(``run_after`` = this run's time). Airflow derives ``logical_date`` from the interval start, so the
logical date is the previous run's time (as with ``CronTriggerTimetable(interval=...)`` or
``CronDataIntervalTimetable``). ``data_interval="exact"`` gives ``CronTriggerTimetable``'s default
instead: data interval ``[run, run]`` and logical date = the run time. Catchup and
``start_date``/``end_date`` follow ``CronTriggerTimetable``: with ``catchup=False`` the latest
missed run is scheduled, older ones are not.

All scans are bounded (see :data:`MAX_SCAN_MONTHS` and ``calendar.MAX_SCAN_DAYS``); when no run
exists within the bound, ``next_dagrun_info`` returns None instead of looping.
"""

from __future__ import annotations

import calendar as _stdcal
import datetime
import heapq
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

from airflow_restjob.timetables.business_calendar import BaseCalendar, CalendarError, calendar_from_dict

if TYPE_CHECKING:
    from pendulum import DateTime

__all__ = ["MAX_SCAN_MONTHS", "BusinessDayTimetable"]

RULES = ("every_business_day", "nth_business_day", "day_of_month", "offset")
SHIFTS = ("previous", "next", "skip", "run_anyway")
DATA_INTERVALS = ("previous_run", "exact")
MAX_SHIFT_LIMIT = 62
MAX_OFFSET = 62
MAX_SCAN_MONTHS = 12 * 10
"""Hard bound of months a monthly rule looks at for one answer."""
MAX_SCAN_DAYS_DAILY = 366 * 3
"""Hard bound of days the daily rule looks at for one answer."""
OFFSET_REACH_DAYS = 150
"""An offset run farther than this many calendar days from its base day is dropped (only possible
with calendars closed for months); it keeps every month's run near its month, which the ordered,
bounded scans rely on."""
_ONE_DAY = datetime.timedelta(days=1)
_UTC = pendulum.UTC


def _utcnow() -> DateTime:
    """Return the current time (a seam for tests)."""
    return pendulum.now(_UTC)


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _nth_label(n: int) -> str:
    if n > 0:
        return _ordinal(n)
    if n == -1:
        return "last"
    return f"{_ordinal(-n)}-to-last"


def _parse_time(value: Any, what: str) -> datetime.time:
    if isinstance(value, datetime.time):
        if value.tzinfo is not None:
            raise ValueError(f"{what}={value!r} must not carry a timezone (use the timezone argument)")
        return value.replace(microsecond=0)
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            h, m, s = (int(p) for p in (parts + ["0"])[:3])
            if 0 <= h <= 23 and 0 <= m <= 59 and 0 <= s <= 59:
                return datetime.time(h, m, s)
    raise ValueError(f"{what}={value!r} is not a time of day (expected 'HH:MM' or 'HH:MM:SS')")


def _format_time(t: datetime.time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _parse_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}={value!r} must be an integer")
    return value


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + delta
    return idx // 12, idx % 12 + 1


def _day_in_month(year: int, month: int, day: int) -> datetime.date:
    last = _stdcal.monthrange(year, month)[1]
    return datetime.date(year, month, last if day == -1 or day > last else day)


class BusinessDayTimetable(Timetable):
    """Run a DAG on business days of a calendar; see the module docstring for the rules.

    :param calendar: a calendar object, a definition dict, or the path of a JSON/YAML calendar file.
    :param rule: ``every_business_day`` | ``nth_business_day`` | ``day_of_month`` | ``offset``.
    :param at: local run time, ``"HH:MM"``.
    :param timezone: IANA timezone name of ``at`` and of the calendar dates.
    :param n: n-th business day (rule ``nth_business_day``) or business-day offset (rule ``offset``).
    :param day: day of month (rules ``day_of_month`` and ``offset``), 1..31 or -1 for the last day.
    :param shift: holiday shift of rule ``day_of_month``: previous | next | skip | run_anyway.
    :param max_shift: longest shift in calendar days (0..62), None for the limit 62.
    :param month_start_day: first day of a month for rule ``nth_business_day`` (1..28).
    :param within_month: drop a run that a shift or an offset moves out of its month.
    :param day_change: time at which a business day ends ("HH:MM").
    :param data_interval: ``previous_run`` (default) or ``exact``; see the module docstring.
    """

    periodic = True
    can_be_scheduled = True

    def __init__(
        self,
        calendar: BaseCalendar | dict[str, Any] | str | os.PathLike[str],
        *,
        rule: str = "every_business_day",
        at: str | datetime.time = "00:00",
        timezone: str | Any = "UTC",
        n: int | None = None,
        day: int | None = None,
        shift: str = "previous",
        max_shift: int | None = None,
        month_start_day: int = 1,
        within_month: bool = False,
        day_change: str | datetime.time = "00:00",
        data_interval: str = "previous_run",
    ) -> None:
        self.rule = rule
        self._calendar_source = str(calendar) if isinstance(calendar, (str, os.PathLike)) else None
        try:
            self.calendar: BaseCalendar = calendar_from_dict(calendar)
        except CalendarError as err:
            raise AirflowTimetableInvalid(f"BusinessDayTimetable rule {rule!r}: {err}") from err
        self._raw: dict[str, Any] = {
            "at": at,
            "timezone": timezone,
            "n": n,
            "day": day,
            "shift": shift,
            "max_shift": max_shift,
            "month_start_day": month_start_day,
            "within_month": within_month,
            "day_change": day_change,
            "data_interval": data_interval,
        }
        self._parse()

    # ------------------------------------------------------------------------------------------
    # construction helpers
    @classmethod
    def every_business_day(cls, calendar: Any, **kwargs: Any) -> BusinessDayTimetable:
        """Run on every business day."""
        return cls(calendar, rule="every_business_day", **kwargs)

    @classmethod
    def nth_business_day(cls, calendar: Any, n: int, **kwargs: Any) -> BusinessDayTimetable:
        """Run on the n-th business day of each month (n < 0 counts from the end)."""
        return cls(calendar, rule="nth_business_day", n=n, **kwargs)

    @classmethod
    def day_of_month(
        cls, calendar: Any, day: int, *, shift: str = "previous", **kwargs: Any
    ) -> BusinessDayTimetable:
        """Run on a fixed day of each month, shifted when it is not a business day."""
        return cls(calendar, rule="day_of_month", day=day, shift=shift, **kwargs)

    @classmethod
    def business_days_from(cls, calendar: Any, day: int, offset: int, **kwargs: Any) -> BusinessDayTimetable:
        """Run ``offset`` business days after (or before, if negative) the ``day`` of each month."""
        return cls(calendar, rule="offset", day=day, n=offset, **kwargs)

    def _fail(self, message: str) -> AirflowTimetableInvalid:
        return AirflowTimetableInvalid(f"BusinessDayTimetable rule {self.rule!r}: {message}")

    def _parse(self) -> None:
        raw = self._raw
        rule = self.rule
        if rule not in RULES:
            raise self._fail(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
        try:
            self.at = _parse_time(raw["at"], "at")
            self.day_change = _parse_time(raw["day_change"], "day_change")
        except ValueError as err:
            raise self._fail(str(err)) from err
        tz = raw["timezone"]
        tz_name = tz if isinstance(tz, str) else getattr(tz, "name", None)
        try:
            if not isinstance(tz_name, str) or not tz_name:
                raise ValueError(tz)
            self._tz = pendulum.timezone(tz_name)
        except Exception as err:
            raise self._fail(f"invalid timezone {tz!r} (expected an IANA name such as 'Asia/Tokyo')") from err
        self.timezone = tz_name
        if raw["data_interval"] not in DATA_INTERVALS:
            raise self._fail(
                f"data_interval={raw['data_interval']!r}; expected one of {', '.join(DATA_INTERVALS)}"
            )
        self.data_interval: str = raw["data_interval"]
        self.n: int | None = None
        self.day: int | None = None
        self.shift: str = str(raw["shift"])
        self.max_shift: int | None = None
        self.month_start_day = 1
        self.within_month = bool(raw["within_month"])
        try:
            if rule == "nth_business_day":
                self.n = _parse_int(raw["n"], "n")
                self.month_start_day = _parse_int(raw["month_start_day"], "month_start_day")
                if not 1 <= self.month_start_day <= 28:
                    raise ValueError(f"month_start_day={self.month_start_day} must be 1..28")
                bound = self.calendar.max_business_days(31)
                if self.n == 0 or abs(self.n) > bound:
                    raise ValueError(
                        f"n={self.n} cannot exist: a month of calendar {self.calendar.name!r} has at most "
                        f"{bound} business days (use 1..{bound} or -1..-{bound})"
                    )
            elif rule in ("day_of_month", "offset"):
                self.day = _parse_int(raw["day"], "day")
                if not (1 <= self.day <= 31 or self.day == -1):
                    raise ValueError(f"day={self.day} must be 1..31 or -1 (last day of the month)")
                if rule == "offset":
                    self.n = _parse_int(raw["n"], "n (offset)")
                    if self.n == 0 or abs(self.n) > MAX_OFFSET:
                        raise ValueError(
                            f"offset n={self.n} must be 1..{MAX_OFFSET} or -1..-{MAX_OFFSET} business days"
                        )
                else:
                    if self.shift not in SHIFTS:
                        raise ValueError(f"shift={self.shift!r}; expected one of {', '.join(SHIFTS)}")
                    if raw["max_shift"] is not None:
                        self.max_shift = _parse_int(raw["max_shift"], "max_shift")
                        if not 0 <= self.max_shift <= MAX_SHIFT_LIMIT:
                            raise ValueError(
                                f"max_shift={self.max_shift} exceeds the shift limit 0..{MAX_SHIFT_LIMIT} days"
                            )
            for key in ("n", "day"):
                if raw[key] is not None and getattr(self, key) is None:
                    raise ValueError(f"{key}={raw[key]!r} does not apply to this rule")
        except ValueError as err:
            raise self._fail(str(err)) from err
        # Largest distance (days) between the 1st of a month and that month's run, either way.
        if self.rule == "nth_business_day":
            reach = 31 + self.month_start_day
        elif self.rule == "day_of_month":
            reach = 31 + (self.max_shift if self.max_shift is not None else MAX_SHIFT_LIMIT)
        else:
            reach = 31 + OFFSET_REACH_DAYS
        self._reach = datetime.timedelta(days=reach)
        self._reach_months = reach // 28 + 1

    def validate(self) -> None:
        self._parse()

    # ------------------------------------------------------------------------------------------
    # serialization
    def serialize(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "calendar": self.calendar.to_dict(),
            "calendar_source": self._calendar_source,
            "at": _format_time(self.at),
            "timezone": self.timezone,
            "n": self.n,
            "day": self.day,
            "shift": self.shift,
            "max_shift": self.max_shift,
            "month_start_day": self.month_start_day,
            "within_month": self.within_month,
            "day_change": _format_time(self.day_change),
            "data_interval": self.data_interval,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> BusinessDayTimetable:
        kwargs = {k: v for k, v in data.items() if k not in ("calendar", "calendar_source")}
        tt = cls(data["calendar"], **kwargs)
        tt._calendar_source = data.get("calendar_source")
        return tt

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessDayTimetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.rule, self.at, self.timezone, self.n, self.day, self.calendar))

    def __repr__(self) -> str:
        return f"BusinessDayTimetable({self.summary!r})"

    # ------------------------------------------------------------------------------------------
    # texts
    def _rule_text(self) -> str:
        if self.rule == "every_business_day":
            return "Every business day"
        if self.rule == "nth_business_day":
            assert self.n is not None
            base = f" from the {_ordinal(self.month_start_day)}" if self.month_start_day != 1 else ""
            text = f"{_nth_label(self.n)} business day{base} monthly"
            return text[0].upper() + text[1:]
        day_text = "last day" if self.day == -1 else f"the {_ordinal(self.day or 0)}"
        if self.rule == "offset":
            assert self.n is not None
            unit = "business day" if abs(self.n) == 1 else "business days"
            return f"{abs(self.n)} {unit} {'after' if self.n > 0 else 'before'} {day_text} monthly"
        text = "Last day monthly" if self.day == -1 else f"{_ordinal(self.day or 0)} monthly"
        return text

    def _shift_text(self) -> str:
        return {
            "previous": "previous business day",
            "next": "next business day",
            "skip": "skipped",
            "run_anyway": "runs anyway",
        }[self.shift]

    @property
    def summary(self) -> str:
        text = f"{self._rule_text()} at {_format_time(self.at)} ({self.calendar.name})"
        if self.rule == "day_of_month":
            text += f", if closed: {self._shift_text()}"
        return text

    @property
    def description(self) -> str:  # type: ignore[override]
        parts = [f"{self._rule_text()} at {_format_time(self.at)} {self.timezone}"]
        if self.rule == "day_of_month":
            limit = f" (at most {self.max_shift} days)" if self.max_shift is not None else ""
            parts.append(f"when that day is closed: {self._shift_text()}{limit}")
        if self.rule == "nth_business_day":
            parts.append("months with fewer business days have no run")
        if self.within_month and self.rule in ("day_of_month", "offset"):
            parts.append("only inside the month")
        if self.day_change != datetime.time(0):
            parts.append(f"a business day ends at {_format_time(self.day_change)} the next day")
        parts.append(self.calendar.describe())
        if self.data_interval == "previous_run":
            parts.append("data interval: previous run -> this run")
        return "; ".join(parts)

    # ------------------------------------------------------------------------------------------
    # date computations (business "schedule dates", before time of day / day change)
    def _month_occurrence(self, year: int, month: int) -> datetime.date | None:
        cal = self.calendar
        try:
            if self.rule == "nth_business_day":
                assert self.n is not None
                return cal.nth_business_day(year, month, self.n, base_day=self.month_start_day)
            assert self.day is not None
            target = _day_in_month(year, month, self.day)
            if self.rule == "offset":
                assert self.n is not None
                d = cal.add_business_days(target, self.n)
                if abs((d - target).days) > OFFSET_REACH_DAYS:
                    return None
            elif cal.is_business_day(target) or self.shift == "run_anyway":
                return target
            elif self.shift == "skip":
                return None
            else:
                step = -1 if self.shift == "previous" else 1
                limit = self.max_shift if self.max_shift is not None else MAX_SHIFT_LIMIT
                d = target
                for _ in range(limit):
                    d += datetime.timedelta(days=step)
                    if cal.is_business_day(d):
                        break
                else:
                    return None
            if self.within_month and (d.year, d.month) != (year, month):
                return None
            return d
        except CalendarError:
            return None

    def _dates_forward(self, start: datetime.date) -> Iterator[datetime.date]:
        """Yield schedule dates >= start in increasing order (bounded)."""
        cal = self.calendar
        if self.rule == "every_business_day":
            d = start
            for _ in range(MAX_SCAN_DAYS_DAILY):
                try:
                    if cal.is_business_day(d):
                        yield d
                except CalendarError:
                    return
                d += _ONE_DAY
            return
        # Monthly rules: a month's run lies within self._reach of the month's 1st, so months are
        # generated in order and dates released once no later month can produce an earlier one.
        y, m = _add_months(start.year, start.month, -self._reach_months)
        heap: list[datetime.date] = []
        last: datetime.date | None = None
        for _ in range(MAX_SCAN_MONTHS):
            occ = self._month_occurrence(y, m)
            if occ is not None and occ >= start:
                heapq.heappush(heap, occ)
            y, m = _add_months(y, m, 1)
            horizon = datetime.date(y, m, 1) - self._reach
            while heap and heap[0] < horizon:
                d = heapq.heappop(heap)
                if d != last:
                    last = d
                    yield d
        while heap:
            d = heapq.heappop(heap)
            if d != last:
                last = d
                yield d

    def _dates_backward(self, start: datetime.date) -> Iterator[datetime.date]:
        """Yield schedule dates <= start in decreasing order (bounded)."""
        cal = self.calendar
        if self.rule == "every_business_day":
            d = start
            for _ in range(MAX_SCAN_DAYS_DAILY):
                try:
                    if cal.is_business_day(d):
                        yield d
                except CalendarError:
                    return
                d -= _ONE_DAY
            return
        y, m = _add_months(start.year, start.month, self._reach_months)
        heap: list[int] = []  # negated ordinals: a max-heap
        last: int | None = None
        for _ in range(MAX_SCAN_MONTHS):
            occ = self._month_occurrence(y, m)
            if occ is not None and occ <= start:
                heapq.heappush(heap, -occ.toordinal())
            horizon = (datetime.date(y, m, 1) + self._reach).toordinal()
            y, m = _add_months(y, m, -1)
            while heap and -heap[0] > horizon:
                o = -heapq.heappop(heap)
                if o != last:
                    last = o
                    yield datetime.date.fromordinal(o)
        while heap:
            o = -heapq.heappop(heap)
            if o != last:
                last = o
                yield datetime.date.fromordinal(o)

    def run_time(self, d: datetime.date) -> DateTime:
        """Return the run instant (UTC) of schedule date ``d``."""
        local = d + _ONE_DAY if self.at < self.day_change else d
        at = self.at
        # fold=0: an ambiguous wall time (DST end) is its first occurrence; a wall time that does
        # not exist (DST start) is not reproduced by fold=0, and fold=1 moves it forward.
        first = pendulum.datetime(
            local.year, local.month, local.day, at.hour, at.minute, at.second, tz=self._tz, fold=0
        )
        if (first.hour, first.minute, first.second) != (at.hour, at.minute, at.second):
            first = pendulum.datetime(
                local.year, local.month, local.day, at.hour, at.minute, at.second, tz=self._tz, fold=1
            )
        return first.in_timezone(_UTC)

    def _local_date(self, t: datetime.datetime) -> datetime.date:
        return pendulum.instance(t).in_timezone(self._tz).date()

    def next_run_after(self, t: datetime.datetime, *, inclusive: bool = False) -> DateTime | None:
        """Return the first run at (``inclusive``) or after ``t``, or None within the scan bound."""
        for d in self._dates_forward(self._local_date(t) - 2 * _ONE_DAY):
            r = self.run_time(d)
            if r > t or (inclusive and r == t):
                return r
        return None

    def previous_run_before(self, t: datetime.datetime, *, inclusive: bool = False) -> DateTime | None:
        """Return the last run at (``inclusive``) or before ``t``, or None within the scan bound."""
        for d in self._dates_backward(self._local_date(t) + _ONE_DAY):
            r = self.run_time(d)
            if r < t or (inclusive and r == t):
                return r
        return None

    def iter_runs(self, start: datetime.datetime, end: datetime.datetime) -> Iterator[DateTime]:
        """Yield run instants in ``[start, end]`` (a convenience for previews and tests)."""
        t: DateTime | None = self.next_run_after(start, inclusive=True)
        while t is not None and t <= end:
            yield t
            t = self.next_run_after(t)

    # ------------------------------------------------------------------------------------------
    # Timetable protocol
    def _info(self, run: DateTime) -> DagRunInfo:
        if self.data_interval == "exact":
            return DagRunInfo.exact(run)
        start = self.previous_run_before(run) or run
        return DagRunInfo.interval(start, run)

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        run_after = pendulum.instance(run_after)
        if self.data_interval == "exact":
            return DataInterval.exact(run_after)
        start = self.previous_run_before(run_after) or run_after
        return DataInterval(start=start, end=run_after)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        earliest = restriction.earliest
        nxt: DateTime | None
        if restriction.catchup:
            if last_automated_data_interval is not None:
                nxt = self.next_run_after(last_automated_data_interval.end)
            elif earliest is None:
                nxt = self.next_run_after(_utcnow(), inclusive=True)
            else:
                nxt = self.next_run_after(earliest, inclusive=True)
        else:
            now = _utcnow()
            candidates = [self.previous_run_before(now, inclusive=True)]
            if last_automated_data_interval is not None:
                candidates.append(self.next_run_after(last_automated_data_interval.end))
            elif earliest is None:
                candidates.append(self.next_run_after(now, inclusive=True))
            if earliest is not None:
                candidates.append(self.next_run_after(earliest, inclusive=True))
            if last_automated_data_interval is not None or earliest is not None:
                # every candidate must satisfy the hard lower bounds
                floors = [c for c in candidates[1:]]
                if any(c is None for c in floors):
                    return None
            present = [c for c in candidates if c is not None]
            nxt = max(present) if present else None
        if nxt is None:
            return None
        if restriction.latest is not None and nxt > restriction.latest:
            return None
        return self._info(nxt)
