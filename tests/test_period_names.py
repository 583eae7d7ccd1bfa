"""One name per period everywhere: the period_name macro (transforms/sql/formulas.sql) names every grain, quarters
numbered in their April-March year with their months, and Python (the ministers' summary) reads the same macro."""

import datetime as dt

import duckdb
import pytest

from pipelines.defs.publishing.summary_formats import Period
from transforms import sql
from transforms.periods import period_name

NAMES = [
    ("month", dt.date(2025, 12, 1), dt.date(2025, 12, 1), "December 2025"),
    ("quarter", dt.date(2025, 4, 1), dt.date(2025, 6, 30), "Q1 2025-26 (Apr-Jun 2025)"),
    ("quarter", dt.date(2025, 7, 1), dt.date(2025, 9, 30), "Q2 2025-26 (Jul-Sep 2025)"),
    ("quarter", dt.date(2025, 10, 1), dt.date(2025, 12, 31), "Q3 2025-26 (Oct-Dec 2025)"),
    ("quarter", dt.date(2026, 1, 1), dt.date(2026, 3, 31), "Q4 2025-26 (Jan-Mar 2026)"),
    ("quarter", dt.date(1999, 10, 1), dt.date(1999, 12, 31), "Q3 1999-00 (Oct-Dec 1999)"),
    ("financial_year", dt.date(2018, 4, 1), dt.date(2019, 3, 31), "2018-19"),
    ("rolling_12_months", dt.date(2016, 10, 1), dt.date(2017, 9, 30), "12 months to Sep 2017"),
    ("span", dt.date(2023, 7, 1), dt.date(2024, 6, 30), "Jul 2023 to Jun 2024"),
]


@pytest.mark.parametrize(("grain", "start", "end", "name"), NAMES)
def test_every_grain_has_one_name_in_sql_and_python(grain, start, end, name):
    con = duckdb.connect()
    con.execute(sql("formulas"))
    assert con.execute("SELECT period_name(?, ?, ?)", [grain, start, end]).fetchone()[0] == name
    assert period_name(grain, start, end) == name


def test_the_summary_names_a_quarter_as_the_tables_do():
    quarter = Period("quarter", dt.date(2025, 10, 1), dt.date(2025, 12, 1))
    assert (quarter.name, quarter.previous_name, quarter.stem) == (
        "Q3 2025-26 (Oct-Dec 2025)", "Q2 2025-26 (Jul-Sep 2025)", "benefits-summary-2025-26-Q3")
