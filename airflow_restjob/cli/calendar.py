"""``airflow-restjob calendar``: check a business-day calendar and a timetable's next runs before deploying.

    airflow-restjob calendar show CALENDAR_FILE [--year YYYY]
    airflow-restjob calendar next-runs --dag DAG_ID [--dags-folder PATH] [--count N] [--after DATE]
    airflow-restjob calendar next-runs --calendar FILE [--rule RULE ...] [--count N] [--after DATE]

``show`` reads the calendar file as the DAGs do (``airflow_restjob.timetables.business_calendar``)
and prints the year month by month, Monday first, closed days marked ``*`` and listed with the
reason: the national holiday's name, company closure, annual closure, weekly closed day.

``next-runs`` asks the business-day timetable (``BusinessDayTimetable.next_dagrun_info``, what the
scheduler asks) for the next runs: of a DAG's timetable (the DAG file is parsed with Airflow's
DagBag), or of a timetable built from a calendar file and the rule options.

Exit codes: 0 ok; 1 usage error; 2 bad input (calendar file missing, unreadable or invalid, unknown
DAG id, DAG without a business-day timetable, invalid timetable option).
"""

from __future__ import annotations

import argparse
import calendar as stdcal
import contextlib
import datetime
import difflib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_restjob.cli import UsageParser
from airflow_restjob.timetables import business_calendar
from airflow_restjob.timetables.business_calendar import BaseCalendar, CalendarError, load_calendar

OK, USAGE, BAD_INPUT = 0, 1, 2
MARK = "*"
CELL = 4  # a day of the month grid: 3 digits + the mark
# BusinessDayTimetable's rule options: (keyword, type, help); None = the timetable's default
RULE_OPTIONS: list[tuple[str, Any, str]] = [
    ("rule", str, "every_business_day (default), nth_business_day, day_of_month or offset"),
    ("at", str, "run time of day HH:MM[:SS] (default 00:00)"),
    ("timezone", str, "IANA time zone of the run time and of the calendar dates (default UTC)"),
    ("n", int, "nth_business_day: which business day (-1 = last); offset: days after (> 0) or before (< 0)"),
    ("day", int, "day_of_month and offset: the day of the month, 1..31 or -1 (last day)"),
    ("shift", str, "day_of_month, when the day is closed: previous (default), next, skip or run_anyway"),
    ("max_shift", int, "day_of_month: longest shift in calendar days, 0..62 (default 62)"),
    ("month_start_day", int, "nth_business_day: the day a month starts, 1..28 (default 1)"),
    ("within_month", None, "day_of_month and offset: drop a run a shift or an offset moves out of its month"),
    ("day_change", str, "time HH:MM at which a business day ends (default 00:00)"),
    ("data_interval", str, "previous_run (default: previous run -> this run) or exact ([run, run])"),
]


class CommandError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _plain(text: str) -> str:
    """Help text without reStructuredText markup."""
    return text.replace("``", "").replace("**", "").replace("::\n", ":\n")


def file_format() -> str:
    """The calendar file format, from the calendar model's documentation."""
    doc = business_calendar.__doc__ or ""
    start, end = doc.find("Calendar file format"), doc.find("Conventions of the navigation")
    return _plain(doc[start:end]).rstrip() if 0 <= start < end else ""


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return int(value)


def _moment(value: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM or with an offset, +09:00)"
        ) from None


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "calendar",
        help="check a business-day calendar file and a timetable's next runs",
        description=_plain(__doc__.split("\n\n")[0]),
        epilog=_plain(__doc__.split("\n\n")[-1]),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=UsageParser)
    show = actions.add_parser(
        "show",
        help="print a year of a calendar file, closed days marked and named",
        description="Print the year as 12 month grids (Monday first), closed days marked with * and listed "
        "below each month with the reason: the national holiday's name (holidays library), company "
        "closure, annual closure, weekly closed day. The file is read as the DAGs read it. Holiday names "
        "are in the language the holidays library takes from LANGUAGE, LC_ALL, LC_MESSAGES or LANG (e.g. "
        "LANGUAGE=en_US; unset: the country's own language).",
        epilog=file_format(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("file", metavar="CALENDAR_FILE", help="a JSON or YAML calendar file")
    show.add_argument("--year", type=int, metavar="YYYY", help="the year to show (default: this year)")
    runs = actions.add_parser(
        "next-runs",
        help="list the next runs of a business-day timetable (of a DAG, or of a calendar file and a rule)",
        description="List the next runs of a BusinessDayTimetable, computed by the timetable's own "
        "next_dagrun_info as the scheduler does: of the DAG DAG_ID (its start_date and end_date apply), "
        "or of a timetable built from a calendar file and the rule options below. One line per run: "
        "the run time (data interval end), its weekday, the logical date and the data interval, in the "
        "timetable's time zone.",
    )
    source = runs.add_mutually_exclusive_group(required=True)
    source.add_argument("--dag", metavar="DAG_ID", help="a DAG scheduled by BusinessDayTimetable")
    source.add_argument("--calendar", metavar="FILE", help="a calendar file, with the rule options below")
    runs.add_argument(
        "--dags-folder", metavar="PATH", help="where the DAG files are (default: [core] dags_folder)"
    )
    runs.add_argument("--count", type=_positive, default=10, metavar="N", help="how many runs (default 10)")
    runs.add_argument(
        "--after",
        type=_moment,
        metavar="DATE",
        help="list the runs at or after this date or time (default: now); without an offset it is "
        "in the timetable's time zone",
    )
    rules = runs.add_argument_group(
        "rule options (with --calendar; the arguments of BusinessDayTimetable of the same names)"
    )
    for name, kind, text in RULE_OPTIONS:
        flags = dict.fromkeys([f"--{name.replace('_', '-')}", f"--{name}"])
        if kind is None:
            rules.add_argument(*flags, dest=name, action="store_const", const=True, help=text)
        else:
            rules.add_argument(*flags, dest=name, type=kind, metavar=name.upper(), help=text)


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    try:
        if action == "show":
            return show(args.file, args.year)
        if action == "next-runs":
            return next_runs(args)
        print(
            "usage: airflow-restjob calendar {show CALENDAR_FILE [--year YYYY] | next-runs (--dag DAG_ID | "
            "--calendar FILE) ...}",
            file=sys.stderr,
        )
        return USAGE
    except CommandError as exc:
        print(f"airflow-restjob calendar: {exc}", file=sys.stderr)
        return exc.code


# --- show ------------------------------------------------------------------------------------------
def read_calendar(path: str) -> BaseCalendar:
    """The calendar of a file, as the DAGs read it; CommandError(2) with the model's message and the fix."""
    try:
        return load_calendar(path)
    except CalendarError as exc:
        raise CommandError(BAD_INPUT, f"{exc}. {_fix(exc)}".rstrip()) from None


def _fix(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError):
            return "Fix: give the path of an existing, readable calendar file (JSON or YAML)."
        if isinstance(cause, ImportError):
            return ""  # the model's message says which extra to install
        cause = cause.__cause__
    return "Fix: correct the calendar file (its format: airflow-restjob calendar show --help)."


def show(path: str, year: int | None) -> int:
    cal = read_calendar(path)
    year = year if year is not None else datetime.date.today().year
    try:
        first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        closed = set(cal.closed_days_between(first, last))
        lines = [
            cal.describe(),
            f"{year}: {(last - first).days + 1 - len(closed)} business days, {len(closed)} closed days. "
            f"Legend: {MARK} after a day = closed (no business-day run); each month lists its closed days "
            "and why.",
        ]
        for month in range(1, 13):
            lines += ["", *month_lines(cal, year, month, closed)]
    except (CalendarError, ValueError) as exc:
        raise CommandError(BAD_INPUT, f"{exc}. Fix: choose a year 1900..2999.") from None
    print("\n".join(lines))
    return OK


def month_lines(cal: BaseCalendar, year: int, month: int, closed: set[datetime.date]) -> list[str]:
    """One month: title, weekday header, weeks (Monday first), then its closed days with the reasons."""
    width = 7 * CELL - 1
    lines = [f"{stdcal.month_name[month]} {year}".center(width).rstrip()]
    lines.append("".join(f"{stdcal.day_abbr[i][:2]:>3} " for i in range(7)).rstrip())
    for week in stdcal.Calendar(firstweekday=stdcal.MONDAY).monthdatescalendar(year, month):
        cells = [
            f"{d.day:>3}{MARK if d in closed else ' '}" if d.month == month else " " * CELL for d in week
        ]
        lines.append("".join(cells).rstrip())
    for d in sorted(d for d in closed if d.month == month):
        lines.append(f"  {d.isoformat()} {stdcal.day_abbr[d.weekday()]}  {cal.closure_reason(d)}")
    return lines


# --- next-runs -------------------------------------------------------------------------------------
def next_runs(args: argparse.Namespace) -> int:
    from airflow.exceptions import AirflowTimetableInvalid
    from airflow.timetables.base import TimeRestriction

    given = {name: getattr(args, name) for name, _, _ in RULE_OPTIONS if getattr(args, name) is not None}
    if args.dag:
        if given:
            options = ", ".join(f"--{n.replace('_', '-')}" for n in given)
            print(
                f"airflow-restjob calendar next-runs: the rule options ({options}) go with --calendar; a DAG's timetable "
                "has its own rule (change it in the DAG file).",
                file=sys.stderr,
            )
            return USAGE
        label, timetable, earliest, latest = dag_timetable(args.dag, args.dags_folder)
    else:
        if args.dags_folder:
            print("airflow-restjob calendar next-runs: --dags-folder goes with --dag.", file=sys.stderr)
            return USAGE
        from airflow_restjob.timetables.business_day import BusinessDayTimetable

        cal = read_calendar(args.calendar)
        try:
            timetable = BusinessDayTimetable(cal, **given)
        except AirflowTimetableInvalid as exc:
            raise CommandError(
                BAD_INPUT, f"{exc}. Fix: change the rule options (airflow-restjob calendar next-runs --help)."
            ) from None
        label, earliest, latest = args.calendar, None, None
    after = _aware(args.after, timetable.timezone)
    earliest = max(after, earliest) if earliest is not None else after
    restriction = TimeRestriction(earliest=earliest, latest=latest, catchup=True)
    tz = timetable.timezone

    def iso(moment: Any) -> str:
        return moment.in_timezone(tz).isoformat() if moment is not None else "-"

    print(f"{label}: {timetable.description}")
    print(f"next {args.count} runs at or after {iso(earliest)} (times in {tz}):")
    print(f"{'run after':<27}{'weekday':<11}{'logical date':<27}data interval")
    count = 0
    for info in dagrun_infos(timetable, restriction, args.count):
        weekday = stdcal.day_name[info.run_after.in_timezone(tz).weekday()]
        interval = info.data_interval  # never None for this timetable (Airflow 3.3 allows it)
        span = f"{iso(interval.start)}/{iso(interval.end)}" if interval else "-"
        print(f"{iso(info.run_after):<27}{weekday:<11}{iso(info.logical_date):<27}{span}")
        count += 1
    if count < args.count:
        bound = " before the DAG's end_date" if latest else ""
        print(f"no further run: the timetable has none{bound} within its scan bound")
    return OK


def dagrun_infos(timetable: Any, restriction: Any, count: int) -> Iterator[Any]:
    """The runs the scheduler creates one after the other: each next_dagrun_info after the last interval."""
    last = None
    for _ in range(count):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            return
        yield info
        last = info.data_interval


def _aware(moment: datetime.datetime | None, tz: str) -> Any:
    import pendulum

    if moment is None:
        return pendulum.now("UTC")
    return pendulum.instance(moment, tz=pendulum.timezone(tz))  # tz: of a naive moment only


def dag_timetable(dag_id: str, dags_folder: str | None) -> tuple[str, Any, Any, Any]:
    """(label, the DAG's BusinessDayTimetable, earliest, latest) of a DAG parsed with Airflow's DagBag."""
    import inspect

    from airflow.configuration import conf

    from airflow_restjob.timetables.business_day import BusinessDayTimetable

    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow >= 3.2
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef,attr-defined]

    folder = dags_folder or conf.get("core", "dags_folder")
    if not Path(folder).exists():
        raise CommandError(
            BAD_INPUT,
            f"dags folder {folder!r} does not exist. Fix: --dags-folder PATH (default: [core] dags_folder).",
        )
    kwargs: dict[str, Any] = {"dag_folder": folder}
    if "include_examples" in inspect.signature(DagBag).parameters:
        kwargs["include_examples"] = False
    with contextlib.redirect_stdout(sys.stderr):  # Airflow logs to stdout; the runs go there
        bag = DagBag(**kwargs)
    dag = bag.dags.get(dag_id)
    if dag is None:
        found = sorted(bag.dags)
        guess = difflib.get_close_matches(dag_id, found, n=1)
        failed = "".join(
            f" {file} failed to import: {error.strip().splitlines()[-1] if error.strip() else '?'}."
            for file, error in sorted(bag.import_errors.items())
        )
        raise CommandError(
            BAD_INPUT,
            f"no DAG {dag_id!r} in {folder}."
            + (f" Did you mean {guess[0]!r}?" if guess else "")
            + failed
            + f" Fix: give a DAG id of that folder ({', '.join(found) or 'none found'}), or point "
            "--dags-folder at the folder of the DAG file.",
        )
    timetable = dag.timetable
    if not isinstance(timetable, BusinessDayTimetable):
        kind = type(timetable)
        raise CommandError(
            BAD_INPUT,
            f"DAG {dag_id!r} is scheduled by {kind.__module__}.{kind.__qualname__}, not by this provider's "
            "business-day timetable. Fix: next-runs reads BusinessDayTimetable schedules only (schedule="
            "airflow_restjob.timetables.business_day.BusinessDayTimetable(...)); for other timetables use "
            f"airflow dags next-execution {dag_id}.",
        )
    # the scheduler's bounds, as Airflow's DAG time restriction: the earliest start date and the end
    # date (the latest task end date when every task has one)
    starts = [t.start_date for t in dag.tasks if t.start_date] + [d for d in [dag.start_date] if d]
    ends = [t.end_date for t in dag.tasks if t.end_date]
    latest = dag.end_date
    if ends and len(ends) == len(dag.tasks):
        latest = max(ends + [d for d in [dag.end_date] if d])
    earliest = _aware(min(starts), "UTC") if starts else None
    return f"DAG {dag_id}", timetable, earliest, _aware(latest, "UTC") if latest else None
