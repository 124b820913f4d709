"""``airflow-restjob calendar``: a year of a calendar file, and the next runs of a business-day timetable."""

from __future__ import annotations

import calendar
import datetime as dt
import inspect
import json
import subprocess
import sys
from pathlib import Path

import holidays
import pendulum
import pytest
from airflow.timetables.base import TimeRestriction

from airflow_restjob.cli import main
from airflow_restjob.timetables.business_day import BusinessDayTimetable

JP_FILE = Path(__file__).parents[3] / "dags" / "calendars" / "rental_car_jp.json"


@pytest.fixture(autouse=True)
def _english_holiday_names(monkeypatch):
    monkeypatch.setenv("LANGUAGE", "en_US")  # the holidays library picks the names' language from it


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["calendar", *args])
    out, err = capsys.readouterr()
    return code, out, err


def month_block(out: str, title: str) -> list[str]:
    """The lines of one month: from its title to the blank line after it."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def write(tmp_path: Path, name: str, data: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


# --- show ------------------------------------------------------------------------------------------
def test_show_example_calendar_january_grid_and_closed_days(capsys):
    code, out, err = cli(capsys, "show", str(JP_FILE), "--year", "2025")
    assert code == 0, err
    names = holidays.country_holidays("JP", years=2025)
    assert month_block(out, "January 2025") == [
        "        January 2025",
        " Mo  Tu  We  Th  Fr  Sa  Su",
        "          1*  2*  3*  4*  5*",
        "  6   7   8   9  10  11* 12*",
        " 13* 14  15  16  17  18* 19*",
        " 20  21  22  23  24  25* 26*",
        " 27  28  29  30  31",
        f"  2025-01-01 Wed  {names[dt.date(2025, 1, 1)]}; annual closure (12-29/01-03)",
        "  2025-01-02 Thu  annual closure (12-29/01-03)",
        "  2025-01-03 Fri  annual closure (12-29/01-03)",
        "  2025-01-04 Sat  weekly closed day (Saturday)",
        "  2025-01-05 Sun  weekly closed day (Sunday)",
        "  2025-01-11 Sat  weekly closed day (Saturday)",
        "  2025-01-12 Sun  weekly closed day (Sunday)",
        "  2025-01-13 Mon  Coming of Age Day",
        "  2025-01-18 Sat  weekly closed day (Saturday)",
        "  2025-01-19 Sun  weekly closed day (Sunday)",
        "  2025-01-25 Sat  weekly closed day (Saturday)",
        "  2025-01-26 Sun  weekly closed day (Sunday)",
    ]
    assert "Legend: * after a day = closed" in out
    stripped = [line.strip() for line in out.splitlines()]
    titles = [stripped.index(f"{month} 2025") for month in calendar.month_name[1:]]
    assert titles == sorted(titles)  # 12 months, in order


def test_show_names_national_holidays_on_their_day(capsys):
    code, out, _ = cli(capsys, "show", str(JP_FILE), "--year", "2025")
    assert code == 0
    names = holidays.country_holidays("JP", years=2025)
    november = month_block(out, "November 2025")
    assert f"  2025-11-03 Mon  {names[dt.date(2025, 11, 3)]}" in november  # Culture Day
    assert f"  2025-11-24 Mon  {names[dt.date(2025, 11, 24)]}" in november  # substitute for Sunday 11/23
    assert f"  2025-11-23 Sun  {names[dt.date(2025, 11, 23)]}; weekly closed day (Sunday)" in november
    assert " 24* 25  26  27  28  29* 30*" in november  # marked in the grid, the Tuesday after open
    assert "Culture Day" in names[dt.date(2025, 11, 3)]


def test_show_company_closures_weekly_days_and_working_days(capsys, tmp_path):
    path = write(
        tmp_path,
        "plant.json",
        {
            "name": "plant",
            "weekly_closed": ["sun"],
            "closed": ["2025-08-13", "2025-08-14/2025-08-16"],
            "working": ["2025-08-17"],
        },
    )
    code, out, err = cli(capsys, "show", path, "--year", "2025")
    assert code == 0, err
    august = month_block(out, "August 2025")
    assert august[:8] == [
        "        August 2025",
        " Mo  Tu  We  Th  Fr  Sa  Su",
        "                  1   2   3*",
        "  4   5   6   7   8   9  10*",
        " 11  12  13* 14* 15* 16* 17",  # 17: a working Sunday
        " 18  19  20  21  22  23  24*",
        " 25  26  27  28  29  30  31*",
        "  2025-08-03 Sun  weekly closed day (Sunday)",
    ]
    assert "  2025-08-13 Wed  company closure" in august
    assert "  2025-08-16 Sat  company closure (2025-08-14/2025-08-16)" in august
    assert not any(line.startswith("  2025-08-17") for line in august)
    assert out.splitlines()[0] == "calendar plant (closed Sun; 2 company closure(s); 1 extra working day(s))"
    assert "2025: 310 business days, 55 closed days." in out  # 52 Sundays but the working 17th, 4 closures


def test_show_this_year_by_default(capsys, tmp_path):
    code, out, _ = cli(capsys, "show", write(tmp_path, "c.json", {"weekly_closed": []}))
    assert code == 0 and f"January {dt.date.today().year}" in out


def test_show_combined_calendar_names_the_calendar(capsys, tmp_path):
    write(tmp_path, "plant.json", {"name": "plant", "weekly_closed": ["wed"]})
    path = write(tmp_path, "both.json", {"mode": "any", "calendars": [str(JP_FILE), "plant.json"]})
    code, out, _ = cli(capsys, "show", path, "--year", "2025")
    assert code == 0
    assert "  2025-01-08 Wed  plant: weekly closed day (Wednesday)" in out
    assert "  2025-01-13 Mon  rental-car: Coming of Age Day" in out


@pytest.mark.parametrize(
    "content, words",
    [
        ("{nope", ["malformed", "Fix: correct the calendar file"]),
        (
            '{"country": "JP", "weekly": ["sun"]}',
            ["unknown key(s) ['weekly']", "Fix: correct the calendar file"],
        ),
        ('{"country": "XX"}', ["unknown country code 'XX'"]),
        ('{"closed": ["2025-02-30"]}', ["closed: invalid date '2025-02-30'"]),
    ],
)
def test_show_invalid_file_exit_2_with_the_models_message(capsys, tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = cli(capsys, "show", str(path))
    assert code == 2 and out == ""
    assert f"calendar file {str(path)!r}" in err
    for word in words:
        assert word in err


def test_show_without_holidays_says_which_extra(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "holidays", None)  # import holidays -> ImportError
    code, _, err = cli(capsys, "show", str(JP_FILE))
    assert code == 2 and "install airflow-provider-restjob[holidays]" in err


def test_show_year_out_of_range_and_usage_errors(capsys):
    code, _, err = cli(capsys, "show", str(JP_FILE), "--year", "3000")
    assert code == 2 and "year 3000 outside 1900..2999" in err
    with pytest.raises(SystemExit) as usage:
        main(["calendar", "show", str(JP_FILE), "--year", "soon"])
    assert usage.value.code == 1
    assert cli(capsys)[0] == 1  # no action


def test_missing_file_through_the_command_line(tmp_path):
    missing = tmp_path / "no-such-calendar.json"
    done = subprocess.run(
        [sys.executable, "-m", "airflow_restjob.cli", "calendar", "show", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert f"calendar file {str(missing)!r}: cannot be read" in done.stderr
    assert "Fix: give the path of an existing, readable calendar file" in done.stderr
    assert done.stdout == ""


def test_help_is_plain_text_and_documents_every_rule_option(capsys):
    from airflow_restjob.cli.calendar import RULE_OPTIONS

    for args in (["--help"], ["show", "--help"], ["next-runs", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(["calendar", *args])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert "``" not in text and "**" not in text and "::" not in text
    assert '"annual_closed": ["12-29/01-03", "05-01"]' in cli_help(capsys, "show")
    params = inspect.signature(BusinessDayTimetable.__init__).parameters
    keywords = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert [name for name, _, _ in RULE_OPTIONS] == keywords  # every option, the timetable's names
    runs_help = cli_help(capsys, "next-runs")
    for name, _, text in RULE_OPTIONS:
        assert f"--{name}" in runs_help or f"--{name.replace('_', '-')}" in runs_help
        default = params[name].default
        if default not in (None, False):
            assert str(default) in text, (name, default)


def cli_help(capsys, action: str) -> str:
    with pytest.raises(SystemExit):
        main(["calendar", action, "--help"])
    return capsys.readouterr().out


# --- next-runs -------------------------------------------------------------------------------------
def expected_runs(timetable: BusinessDayTimetable, earliest, count: int) -> list[list[str]]:
    """The scheduler's sequence, asked of the timetable directly: [run after, weekday, logical date, interval]."""
    restriction = TimeRestriction(earliest=earliest, latest=None, catchup=True)
    tz = timetable.timezone
    rows, last = [], None
    for _ in range(count):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        assert info is not None
        start, end = info.data_interval.start.in_timezone(tz), info.data_interval.end.in_timezone(tz)
        run_after = info.run_after.in_timezone(tz)
        rows.append(
            [
                run_after.isoformat(),
                run_after.strftime("%A"),
                start.isoformat(),
                f"{start.isoformat()}/{end.isoformat()}",
            ]
        )
        last = info.data_interval
    return rows


def run_rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("run after"))
    return [line.split() for line in lines[header + 1 :] if line.strip()]


def test_next_runs_of_a_calendar_and_rule_equal_next_dagrun_info(capsys):
    code, out, err = cli(
        capsys,
        "next-runs",
        "--calendar", str(JP_FILE),
        "--rule", "day_of_month", "--day", "25", "--shift", "previous", "--max-shift", "5", "--within_month",
        "--at", "06:00", "--timezone", "Asia/Tokyo",
        "--after", "2025-01-01", "--count", "12",
    )  # fmt: skip
    assert code == 0, err
    timetable = BusinessDayTimetable(
        str(JP_FILE), rule="day_of_month", day=25, shift="previous", max_shift=5, within_month=True,
        at="06:00", timezone="Asia/Tokyo",
    )  # fmt: skip
    expected = expected_runs(timetable, pendulum.datetime(2025, 1, 1, tz="Asia/Tokyo"), 12)
    assert run_rows(out) == expected
    # Sunday 2025-05-25 -> Friday 23rd; the interval runs from the previous run (April 25th)
    assert ["2025-05-23T06:00:00+09:00", "Friday", "2025-04-25T06:00:00+09:00",
            "2025-04-25T06:00:00+09:00/2025-05-23T06:00:00+09:00"] in expected  # fmt: skip
    assert "next 12 runs at or after 2025-01-01T00:00:00+09:00 (times in Asia/Tokyo):" in out
    assert "25th monthly at 06:00 Asia/Tokyo" in out.splitlines()[0]


def test_next_runs_after_an_aware_time_and_the_default_count(capsys):
    code, out, _ = cli(
        capsys, "next-runs", "--calendar", str(JP_FILE), "--at", "06:00", "--after", "2025-12-26T06:00:01Z"
    )
    assert code == 0
    rows = run_rows(out)
    assert len(rows) == 10
    assert rows[0][0] == "2026-01-05T06:00:00+00:00" and rows[0][1] == "Monday"  # after the year-end closure
    assert rows == expected_runs(
        BusinessDayTimetable(str(JP_FILE), at="06:00"), pendulum.datetime(2025, 12, 26, 6, 0, 1), 10
    )


def test_next_runs_bad_rule_options_exit_2(capsys):
    code, _, err = cli(capsys, "next-runs", "--calendar", str(JP_FILE), "--rule", "nth_business_day")
    assert code == 2 and "rule 'nth_business_day': n=None must be an integer" in err and "Fix:" in err
    code, _, err = cli(capsys, "next-runs", "--calendar", str(JP_FILE), "--rule", "nth")
    assert code == 2 and "expected one of every_business_day, nth_business_day, day_of_month, offset" in err
    code, _, err = cli(capsys, "next-runs", "--calendar", "no-such.json")
    assert code == 2 and "calendar file 'no-such.json': cannot be read" in err


DAG_FILE = """
import pendulum
from airflow.sdk import DAG

from airflow_restjob.timetables.business_day import BusinessDayTimetable

with DAG(
    dag_id="third_business_day",
    schedule=BusinessDayTimetable.nth_business_day({calendar!r}, 3, at="09:30", timezone="Asia/Tokyo"),
    start_date=pendulum.datetime(2025, 3, 1, tz="Asia/Tokyo"),
    catchup=False,
):
    pass

with DAG(dag_id="cron_daily", schedule="0 6 * * *", start_date=pendulum.datetime(2025, 1, 1)):
    pass
"""


@pytest.fixture(scope="module")
def dags_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dags")
    (folder / "business_dags.py").write_text(DAG_FILE.format(calendar=str(JP_FILE)), encoding="utf-8")
    return folder


def test_next_runs_of_a_dag_start_at_its_start_date(capsys, dags_folder):
    code, out, err = cli(
        capsys, "next-runs", "--dag", "third_business_day", "--dags-folder", str(dags_folder),
        "--after", "2025-01-01", "--count", "4",
    )  # fmt: skip
    assert code == 0, err
    timetable = BusinessDayTimetable.nth_business_day(str(JP_FILE), 3, at="09:30", timezone="Asia/Tokyo")
    expected = expected_runs(timetable, pendulum.datetime(2025, 3, 1, tz="Asia/Tokyo"), 4)
    assert run_rows(out) == expected
    assert expected[0][:2] == ["2025-03-05T09:30:00+09:00", "Wednesday"]  # Mon 3, Tue 4, Wed 5 March
    assert out.startswith("DAG third_business_day: 3rd business day monthly at 09:30 Asia/Tokyo")


def test_next_runs_dag_errors(capsys, dags_folder):
    code, out, err = cli(capsys, "next-runs", "--dag", "cron_daily", "--dags-folder", str(dags_folder))
    assert code == 2 and "no run" not in out
    assert "DAG 'cron_daily' is scheduled by " in err and "CronTriggerTimetable" in err
    assert "BusinessDayTimetable" in err and "Fix:" in err
    code, _, err = cli(capsys, "next-runs", "--dag", "third_business", "--dags-folder", str(dags_folder))
    assert code == 2 and "no DAG 'third_business'" in err and "Did you mean 'third_business_day'?" in err
    assert "cron_daily, third_business_day" in err
    code, _, err = cli(capsys, "next-runs", "--dag", "x", "--dags-folder", str(dags_folder / "nowhere"))
    assert code == 2 and "does not exist" in err and "--dags-folder" in err
    code, _, err = cli(capsys, "next-runs", "--dag", "third_business_day", "--at", "06:00")
    assert code == 1 and "go with --calendar" in err
