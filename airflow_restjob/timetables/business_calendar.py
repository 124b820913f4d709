"""Business-day calendars (営業日カレンダー) for scheduling.

A :class:`BusinessCalendar` decides, for every calendar date, whether it is a business day:

1. **extra working days** (``working``) are always business days (e.g. a working Saturday);
2. otherwise a date is closed if it is a **company closed day** (``closed``: single dates or
   ``START/END`` ranges), inside an **annual closure** (``annual_closed``: ``MM-DD`` or
   ``MM-DD/MM-DD`` every year, ranges may wrap the year end, e.g. ``12-29/01-03``), a **national
   holiday** of ``country`` (optionally ``subdiv``) from the `holidays` library (substitute and
   observed holidays included, e.g. JP 振替休日), or a **weekly closed day** (``weekly_closed``,
   default Saturday and Sunday);
3. every other date is a business day.

Several calendars combine with :class:`CombinedCalendar`: ``mode="any"`` (closed if closed in any
calendar) or ``mode="all"`` (closed only if closed in all of them).

Calendar file format (JSON, UTF-8; ``.yaml``/``.yml`` files with the same keys are read too, since
PyYAML is an Airflow core dependency)::

    {
      "name": "rental-car",               # optional label shown in summaries
      "country": "JP",                    # optional ISO 3166 code for the holidays library
      "subdiv": null,                     # optional subdivision, e.g. "CA" for US/California
      "weekly_closed": ["sat", "sun"],    # default; [] for none; names or 0=Mon .. 6=Sun
      "closed": ["2025-08-13", "2025-08-14/2025-08-16"],
      "annual_closed": ["12-29/01-03", "05-01"],
      "working": ["2025-03-29"]
    }

A combined calendar file::

    {"mode": "any", "calendars": [{...}, {...}, "other-file.json"]}

(a string inside ``calendars`` is a path relative to the file that names it).

Conventions of the navigation methods: ``next_business_day(d)`` / ``previous_business_day(d)``
are strictly after / before ``d``; ``roll_forward`` / ``roll_backward`` return ``d`` itself when it
is a business day; ``add_business_days(d, n)`` returns the n-th business day strictly after ``d``
(``n > 0``) or strictly before it (``n < 0``), and ``roll_forward(d)`` for ``n == 0``. Scans are
bounded by :data:`MAX_SCAN_DAYS`; a calendar without business days in that range raises
:class:`CalendarError` instead of looping forever.

Why a day is closed: ``closure_reason(d)`` names every rule that closes ``d`` (``"; "``-joined):
the national holiday's name from the `holidays` library (in the language the library picks from
the locale variables LANGUAGE, LC_ALL, LC_MESSAGES, LANG), ``company closure`` (with its range
``START/END`` for a range), ``annual closure (MM-DD/MM-DD)``, ``weekly closed day (Sunday)``; a
combined calendar prefixes each reason with the name of the calendar that gives it. It returns
None for a business day.
"""

from __future__ import annotations

import calendar as _stdcal
import datetime
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_SCAN_DAYS",
    "BaseCalendar",
    "BusinessCalendar",
    "CalendarError",
    "CombinedCalendar",
    "calendar_from_dict",
    "load_calendar",
]

MAX_SCAN_DAYS = 366 * 3
"""Hard bound of days any single scan for a business day looks at."""

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MIN_YEAR, _MAX_YEAR = 1900, 2999


class CalendarError(ValueError):
    """A calendar definition or query is invalid."""


_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _parse_weekday(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 6:
            return value
        raise CalendarError(f"weekly_closed: weekday number {value!r} must be 0 (Mon) .. 6 (Sun)")
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _WEEKDAYS:
            return _WEEKDAYS.index(key)
        if key in _FULL_WEEKDAYS:
            return _FULL_WEEKDAYS.index(key)
    raise CalendarError(f"weekly_closed: unknown weekday {value!r} (use mon..sun or 0=Mon..6=Sun)")


def _parse_date(value: Any, what: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarError(f"{what}: invalid date {value!r} (expected YYYY-MM-DD)")


def _parse_date_range(value: Any, what: str) -> tuple[datetime.date, datetime.date]:
    if isinstance(value, str) and "/" in value:
        start_s, _, end_s = value.partition("/")
        start, end = _parse_date(start_s, what), _parse_date(end_s, what)
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        start, end = _parse_date(value[0], what), _parse_date(value[1], what)
    else:
        start = end = _parse_date(value, what)
    if end < start:
        raise CalendarError(f"{what}: range {value!r} ends before it starts")
    return start, end


def _parse_month_day(value: str, what: str) -> tuple[int, int]:
    parts = value.strip().split("-")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        month, day = int(parts[0]), int(parts[1])
        if 1 <= month <= 12 and 1 <= day <= _stdcal.monthrange(2000, month)[1]:
            return month, day
    raise CalendarError(f"{what}: invalid month-day {value!r} (expected MM-DD, e.g. 12-29)")


def _parse_annual_range(value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    what = "annual_closed"
    if isinstance(value, (list, tuple)) and len(value) == 2:
        start_s, end_s = str(value[0]), str(value[1])
    elif isinstance(value, str):
        start_s, _, end_s = value.partition("/")
        end_s = end_s or start_s
    else:
        raise CalendarError(f"{what}: invalid entry {value!r} (expected 'MM-DD' or 'MM-DD/MM-DD')")
    return _parse_month_day(start_s, what), _parse_month_day(end_s, what)


def _range_text(start: datetime.date, end: datetime.date) -> str:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD/YYYY-MM-DD``, as a calendar file writes a ``closed`` entry."""
    return start.isoformat() if start == end else f"{start.isoformat()}/{end.isoformat()}"


def _annual_text(start: tuple[int, int], end: tuple[int, int]) -> str:
    """``MM-DD`` or ``MM-DD/MM-DD``, as a calendar file writes an ``annual_closed`` entry."""
    (sm, sd), (em, ed) = start, end
    return f"{sm:02d}-{sd:02d}" if (sm, sd) == (em, ed) else f"{sm:02d}-{sd:02d}/{em:02d}-{ed:02d}"


def _as_date(d: datetime.date | datetime.datetime | str) -> datetime.date:
    if isinstance(d, datetime.datetime):
        return d.date()
    if isinstance(d, datetime.date):
        return d
    return _parse_date(d, "date")


class BaseCalendar:
    """Navigation methods shared by all calendars; subclasses implement ``_year_flags``."""

    name: str = "calendar"

    def __init__(self) -> None:
        # year -> (ordinal of Jan 1, one flag byte per day); filled lazily, safe to recompute
        self._years: dict[int, tuple[int, bytes]] = {}

    # --- to implement -------------------------------------------------------------------------
    def _compute_year(self, year: int) -> bytes:
        """Return one byte per day of ``year`` (index = day of year - 1): 1 = business day."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe definition that :func:`calendar_from_dict` turns back into a calendar."""
        raise NotImplementedError

    def describe(self) -> str:
        """Return a one-line human description."""
        raise NotImplementedError

    def max_business_days(self, span_days: int = 31) -> int:
        """Upper bound of business days in any ``span_days`` consecutive days (used to reject rules)."""
        raise NotImplementedError

    # --- core lookup --------------------------------------------------------------------------
    def _year_entry(self, year: int) -> tuple[int, bytes]:
        entry = self._years.get(year)
        if entry is None:
            if not _MIN_YEAR <= year <= _MAX_YEAR:
                raise CalendarError(f"calendar {self.name!r}: year {year} outside {_MIN_YEAR}..{_MAX_YEAR}")
            entry = (datetime.date(year, 1, 1).toordinal(), self._compute_year(year))
            self._years[year] = entry
        return entry

    def _year_flags(self, year: int) -> bytes:
        return self._year_entry(year)[1]

    def is_business_day(self, d: datetime.date | datetime.datetime | str) -> bool:
        """Return True if ``d`` (a date, a datetime's date, or ``YYYY-MM-DD``) is a business day."""
        if type(d) is not datetime.date:
            d = _as_date(d)
        entry = self._years.get(d.year) or self._year_entry(d.year)
        return entry[1][d.toordinal() - entry[0]] == 1

    def is_closed(self, d: datetime.date | datetime.datetime | str) -> bool:
        return not self.is_business_day(d)

    def closure_reason(self, d: datetime.date | datetime.datetime | str) -> str | None:
        """Return why ``d`` is closed (every rule that closes it, ``"; "``-joined), None on a business day."""
        d = _as_date(d)
        if self.is_business_day(d):
            return None
        return "; ".join(dict.fromkeys(self._closure_reasons(d))) or "closed"

    def _closure_reasons(self, d: datetime.date) -> list[str]:
        """Return the rules that close ``d`` (subclasses name theirs)."""
        return []

    # --- navigation ---------------------------------------------------------------------------
    def _scan(self, start: datetime.date, step: int) -> datetime.date:
        d = start
        for _ in range(MAX_SCAN_DAYS):
            if self.is_business_day(d):
                return d
            d += datetime.timedelta(days=step)
        direction = "after" if step > 0 else "before"
        raise CalendarError(
            f"calendar {self.name!r}: no business day within {MAX_SCAN_DAYS} days {direction} {start}"
        )

    def roll_forward(self, d: datetime.date | datetime.datetime | str) -> datetime.date:
        """Return ``d`` if it is a business day, else the next business day."""
        return self._scan(_as_date(d), 1)

    def roll_backward(self, d: datetime.date | datetime.datetime | str) -> datetime.date:
        """Return ``d`` if it is a business day, else the previous business day."""
        return self._scan(_as_date(d), -1)

    def next_business_day(self, d: datetime.date | datetime.datetime | str) -> datetime.date:
        """Return the first business day strictly after ``d``."""
        return self._scan(_as_date(d) + datetime.timedelta(days=1), 1)

    def previous_business_day(self, d: datetime.date | datetime.datetime | str) -> datetime.date:
        """Return the last business day strictly before ``d``."""
        return self._scan(_as_date(d) - datetime.timedelta(days=1), -1)

    def add_business_days(self, d: datetime.date | datetime.datetime | str, n: int) -> datetime.date:
        """Return the n-th business day after ``d`` (n > 0), before it (n < 0), or roll_forward (0)."""
        d = _as_date(d)
        if n == 0:
            return self.roll_forward(d)
        step = 1 if n > 0 else -1
        for _ in range(abs(n)):
            d = self._scan(d + datetime.timedelta(days=step), step)
        return d

    def business_days_between(
        self, start: datetime.date | datetime.datetime | str, end: datetime.date | datetime.datetime | str
    ) -> list[datetime.date]:
        """Return the business days in ``[start, end]`` (both inclusive)."""
        start, end = _as_date(start), _as_date(end)
        out = []
        d = start
        while d <= end:
            if self.is_business_day(d):
                out.append(d)
            d += datetime.timedelta(days=1)
        return out

    def closed_days_between(
        self, start: datetime.date | datetime.datetime | str, end: datetime.date | datetime.datetime | str
    ) -> list[datetime.date]:
        """Return the closed days in ``[start, end]`` (both inclusive)."""
        start, end = _as_date(start), _as_date(end)
        out = []
        d = start
        while d <= end:
            if not self.is_business_day(d):
                out.append(d)
            d += datetime.timedelta(days=1)
        return out

    @staticmethod
    def period_bounds(year: int, month: int, base_day: int = 1) -> tuple[datetime.date, datetime.date]:
        """Return the first and last date of the month ``year-month`` that starts on ``base_day``.

        With ``base_day=21`` the period of March 2024 is 2024-03-21 .. 2024-04-20.
        """
        if not 1 <= base_day <= 28:
            raise CalendarError(f"month start day {base_day!r} must be 1..28")
        if not 1 <= month <= 12:
            raise CalendarError(f"month {month!r} must be 1..12")
        start = datetime.date(year, month, base_day)
        ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
        end = datetime.date(ny, nm, base_day) - datetime.timedelta(days=1)
        return start, end

    def nth_business_day(self, year: int, month: int, n: int, base_day: int = 1) -> datetime.date | None:
        """Return the n-th business day of a month (n < 0 counts from the end: -1 is the last).

        The month starts on ``base_day`` (see :meth:`period_bounds`). Returns None when that month
        has fewer than ``abs(n)`` business days.
        """
        if n == 0 or isinstance(n, bool) or not isinstance(n, int):
            raise CalendarError(f"n-th business day: n must be a non-zero integer, got {n!r}")
        start, end = self.period_bounds(year, month, base_day)
        count = 0
        if n > 0:
            d, step, stop = start, 1, end
        else:
            d, step, stop = end, -1, start
        one = datetime.timedelta(days=step)
        while (d <= stop) if step > 0 else (d >= stop):
            if self.is_business_day(d):
                count += 1
                if count == abs(n):
                    return d
            d += one
        return None

    # --- combination --------------------------------------------------------------------------
    def __or__(self, other: BaseCalendar) -> CombinedCalendar:
        """``a | b``: closed if closed in either (mode ``any``)."""
        return CombinedCalendar([self, other], mode="any")

    def __and__(self, other: BaseCalendar) -> CombinedCalendar:
        """``a & b``: closed only if closed in both (mode ``all``)."""
        return CombinedCalendar([self, other], mode="all")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_years"] = {}
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseCalendar):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


class BusinessCalendar(BaseCalendar):
    """A calendar of business days.

    :param country: ISO 3166 country code for national holidays (``holidays`` library), or None.
    :param subdiv: optional subdivision (state/prefecture code as the holidays library names it).
    :param weekly_closed: weekdays that are closed every week (``"sat"``, ``"sun"``, or 0=Mon..6=Sun).
    :param closed: company closed days: dates, ``YYYY-MM-DD`` strings or ``START/END`` ranges.
    :param annual_closed: closures every year: ``MM-DD`` or ``MM-DD/MM-DD`` (may wrap the year end).
    :param working: extra working days; they win over every closure and weekly closed day.
    :param name: label used in summaries (default: the country code or ``"custom"``).
    """

    def __init__(
        self,
        *,
        country: str | None = None,
        subdiv: str | None = None,
        weekly_closed: Iterable[str | int] = ("sat", "sun"),
        closed: Iterable[Any] = (),
        annual_closed: Iterable[Any] = (),
        working: Iterable[Any] = (),
        name: str | None = None,
    ) -> None:
        super().__init__()
        if country is not None and (not isinstance(country, str) or not country.strip()):
            raise CalendarError(f"country: invalid country code {country!r}")
        self.country = country.strip().upper() if country else None
        self.subdiv = subdiv or None
        if isinstance(weekly_closed, (str, int)):
            weekly_closed = [weekly_closed]
        self.weekly_closed: tuple[int, ...] = tuple(sorted({_parse_weekday(w) for w in weekly_closed}))
        self.closed: tuple[tuple[datetime.date, datetime.date], ...] = tuple(
            sorted({_parse_date_range(v, "closed") for v in _as_list(closed, "closed")})
        )
        self.annual_closed = tuple(
            sorted({_parse_annual_range(v) for v in _as_list(annual_closed, "annual_closed")})
        )
        self.working: tuple[datetime.date, ...] = tuple(
            sorted({_parse_date(v, "working") for v in _as_list(working, "working")})
        )
        self.name = name or self.country or "custom"
        if self.country:
            self._check_country()

    # --- holidays library ---------------------------------------------------------------------
    def _check_country(self) -> None:
        try:
            import holidays
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise CalendarError(
                f"calendar {self.name!r}: country {self.country!r} needs the 'holidays' package; "
                "install airflow-provider-restjob[holidays]"
            ) from err
        try:
            holidays.country_holidays(str(self.country), subdiv=self.subdiv, years=[])
        except NotImplementedError as err:
            if self.subdiv:
                raise CalendarError(
                    f"calendar {self.name!r}: unknown subdivision {self.subdiv!r} for country "
                    f"{self.country!r} ({err})"
                ) from err
            raise CalendarError(
                f"calendar {self.name!r}: unknown country code {self.country!r} (not supported by the "
                "holidays library; use an ISO 3166-1 alpha-2 code such as 'JP' or 'US')"
            ) from err

    def national_holidays(self, year: int) -> dict[datetime.date, str]:
        """Return the national holidays of ``year`` (empty without a country)."""
        if not self.country:
            return {}
        import holidays

        # neighbouring years too: an observed/substitute day may be listed under the year of its holiday
        found = holidays.country_holidays(self.country, subdiv=self.subdiv, years=[year - 1, year, year + 1])
        return {d: n for d, n in sorted(found.items()) if d.year == year}

    def _compute_year(self, year: int) -> bytes:
        first = datetime.date(year, 1, 1)
        ndays = 366 if _stdcal.isleap(year) else 365
        flags = bytearray(ndays)
        weekly = set(self.weekly_closed)
        wd = first.weekday()
        for i in range(ndays):
            flags[i] = 0 if (wd + i) % 7 in weekly else 1

        def close(d: datetime.date) -> None:
            if d.year == year:
                flags[d.timetuple().tm_yday - 1] = 0

        for d in self.national_holidays(year):
            close(d)
        for start, end in self.closed:
            if start.year <= year <= end.year:
                lo, hi = max(start, first), min(end, datetime.date(year, 12, 31))
                while lo <= hi:
                    close(lo)
                    lo += datetime.timedelta(days=1)
        for lo, hi, _ in self._annual_spans(year):
            while lo <= hi:
                close(lo)
                lo += datetime.timedelta(days=1)
        for d in self.working:
            if d.year == year:
                flags[d.timetuple().tm_yday - 1] = 1
        return bytes(flags)

    def _annual_spans(self, year: int) -> Iterator[tuple[datetime.date, datetime.date, str]]:
        """Yield the date ranges of ``year`` that ``annual_closed`` closes, with their entry's text."""
        for (sm, sd), (em, ed) in self.annual_closed:
            # a wrapping range (12-29/01-03) closes the tail of this year and the head of it too
            spans = (
                [((year, sm, sd), (year, em, ed))]
                if (sm, sd) <= (em, ed)
                else [((year, sm, sd), (year, 12, 31)), ((year, 1, 1), (year, em, ed))]
            )
            for (y1, m1, d1), (y2, m2, d2) in spans:
                d1 = min(d1, _stdcal.monthrange(y1, m1)[1])
                d2 = min(d2, _stdcal.monthrange(y2, m2)[1])
                yield datetime.date(y1, m1, d1), datetime.date(y2, m2, d2), _annual_text((sm, sd), (em, ed))

    def _closure_reasons(self, d: datetime.date) -> list[str]:
        reasons = []
        holiday = self.national_holidays(d.year).get(d)
        if holiday:
            reasons.append(holiday)
        for start, end in self.closed:
            if start <= d <= end:
                reasons.append("company closure" + ("" if start == end else f" ({_range_text(start, end)})"))
        reasons += [f"annual closure ({text})" for lo, hi, text in self._annual_spans(d.year) if lo <= d <= hi]
        if d.weekday() in self.weekly_closed:
            reasons.append(f"weekly closed day ({_FULL_WEEKDAYS[d.weekday()].capitalize()})")
        return reasons

    # --- (de)serialization --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "business",
            "name": self.name,
            "country": self.country,
            "subdiv": self.subdiv,
            "weekly_closed": [_WEEKDAYS[w] for w in self.weekly_closed],
            "closed": [_range_text(a, b) for a, b in self.closed],
            "annual_closed": [_annual_text(start, end) for start, end in self.annual_closed],
            "working": [d.isoformat() for d in self.working],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        allowed = {"type", "name", "country", "subdiv", "weekly_closed", "closed", "annual_closed", "working"}
        if not isinstance(data, Mapping):
            raise CalendarError(f"calendar definition must be an object, got {type(data).__name__}")
        unknown = set(data) - allowed
        if unknown:
            raise CalendarError(
                f"calendar definition: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        kwargs = {k: v for k, v in data.items() if k != "type" and v is not None}
        return cls(**kwargs)

    def max_business_days(self, span_days: int = 31) -> int:
        if self.working:
            return span_days
        weekly = set(self.weekly_closed)
        return max(sum(1 for i in range(span_days) if (start + i) % 7 not in weekly) for start in range(7))

    def describe(self) -> str:
        parts = []
        if self.weekly_closed:
            parts.append("closed " + ", ".join(_WEEKDAYS[w].capitalize() for w in self.weekly_closed))
        if self.country:
            parts.append(f"{self.country}{'-' + self.subdiv if self.subdiv else ''} national holidays")
        if self.annual_closed:
            parts.append(
                "every year "
                + ", ".join(
                    f"{sm:02d}/{sd:02d}" + ("" if (sm, sd) == (em, ed) else f"-{em:02d}/{ed:02d}")
                    for (sm, sd), (em, ed) in self.annual_closed
                )
            )
        if self.closed:
            parts.append(f"{len(self.closed)} company closure(s)")
        if self.working:
            parts.append(f"{len(self.working)} extra working day(s)")
        return f"calendar {self.name} ({'; '.join(parts) or 'every day open'})"


class CombinedCalendar(BaseCalendar):
    """Several calendars as one: ``mode="any"`` closes a day closed in any calendar, ``"all"`` in all."""

    def __init__(self, calendars: Sequence[BaseCalendar], mode: str = "any", name: str | None = None) -> None:
        super().__init__()
        if mode not in ("any", "all"):
            raise CalendarError(f"combined calendar: mode {mode!r} must be 'any' or 'all'")
        calendars = list(calendars)
        if not calendars:
            raise CalendarError("combined calendar: needs at least one calendar")
        for c in calendars:
            if not isinstance(c, BaseCalendar):
                raise CalendarError(f"combined calendar: {c!r} is not a calendar")
        self.calendars = calendars
        self.mode = mode
        joiner = "+" if mode == "any" else "&"
        self.name = name or joiner.join(c.name for c in calendars)

    def _closure_reasons(self, d: datetime.date) -> list[str]:
        # mode any: the calendars that close d; mode all: every calendar closes d
        return [f"{c.name}: {reason}" for c in self.calendars if (reason := c.closure_reason(d))]

    def _compute_year(self, year: int) -> bytes:
        flag_sets = [c._year_flags(year) for c in self.calendars]
        if self.mode == "any":  # closed if closed in any -> open only if open in all
            return bytes(int(all(f[i] for f in flag_sets)) for i in range(len(flag_sets[0])))
        return bytes(int(any(f[i] for f in flag_sets)) for i in range(len(flag_sets[0])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "combined",
            "name": self.name,
            "mode": self.mode,
            "calendars": [c.to_dict() for c in self.calendars],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: Path | None = None) -> CombinedCalendar:
        allowed = {"type", "name", "mode", "calendars"}
        unknown = set(data) - allowed
        if unknown:
            raise CalendarError(
                f"combined calendar definition: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        subs = data.get("calendars")
        if not isinstance(subs, list):
            raise CalendarError("combined calendar definition: 'calendars' must be a list")
        return cls(
            [calendar_from_dict(s, base_dir=base_dir) for s in subs],
            mode=data.get("mode", "any"),
            name=data.get("name"),
        )

    def max_business_days(self, span_days: int = 31) -> int:
        bounds = [c.max_business_days(span_days) for c in self.calendars]
        return min(bounds) if self.mode == "any" else min(span_days, sum(bounds))

    def describe(self) -> str:
        how = "closed if closed in any of" if self.mode == "any" else "closed only if closed in all of"
        return f"calendar {self.name} ({how}: " + "; ".join(c.describe() for c in self.calendars) + ")"


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, datetime.date)):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise CalendarError(f"{what}: expected a list, got {value!r}")


def calendar_from_dict(data: Any, base_dir: Path | None = None) -> BaseCalendar:
    """Build a calendar from a definition dict (see the module docstring), a file path or a calendar."""
    if isinstance(data, BaseCalendar):
        return data
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return load_calendar(path)
    if not isinstance(data, Mapping):
        raise CalendarError(f"calendar definition must be an object, got {type(data).__name__}")
    kind = data.get("type") or ("combined" if "calendars" in data else "business")
    if kind == "combined":
        return CombinedCalendar.from_dict(data, base_dir=base_dir)
    if kind == "business":
        return BusinessCalendar.from_dict(data)
    raise CalendarError(f"calendar definition: unknown type {kind!r} (expected 'business' or 'combined')")


def load_calendar(path: str | os.PathLike[str]) -> BaseCalendar:
    """Load a calendar from a JSON (or YAML) file; any problem raises :class:`CalendarError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CalendarError(f"calendar file {str(path)!r}: cannot be read ({err.strerror or err})") from err
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as err:
        raise CalendarError(f"calendar file {str(path)!r}: malformed ({err})") from err
    try:
        return calendar_from_dict(data, base_dir=path.parent)
    except CalendarError as err:
        raise CalendarError(f"calendar file {str(path)!r}: {err}") from err
