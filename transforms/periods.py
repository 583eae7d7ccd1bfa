"""Periods as agencies write them, read into (start, end, grain) without inventing anything.

Grains: month ("2024-03", "2024-03-01", "Mar 2024", "March 2024"); quarter, three months from January, April,
July or October ("2024 Q1", "2016-Q1" and "Jan - Mar 2015" are January-March; the financial "Q1 2024-25" is
April-June 2024); financial_year ("2024-25", "2016-2017", "April 2024 to March 2025"); rolling_12_months (any other
12-month span, "July 2023 to June 2024"); span (any other run of whole months). Any year from 2000 on is read;
which months a deployment accepts is configuration (the registry's first_month). `end` is the last day of the period.
Figures keep the period they were given for: a quarter is never spread over its months.

Periods are named once, by the `period_name` macro of transforms/sql/formulas.sql ("Q3 2025-26 (Oct-Dec 2025)"):
the published tables call it in SQL and `period_name` here evaluates the same macro for Python (the ministers'
summary), so a period has one name everywhere.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import threading

import duckdb
import polars as pl

from transforms import sql
from transforms.domain import add_months

MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name} | {
    name.lower(): n for n, name in enumerate(calendar.month_abbr) if name} | {"sept": 9}
_MONTH = r"([A-Za-z]+)\.?\s+(\d{4})"
PATTERNS = [
    ("iso", re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")),
    ("month_name", re.compile(_MONTH)),
    ("quarter", re.compile(r"(\d{4})\s*-?\s*Q([1-4])|Q([1-4])\s*-?\s*(\d{4})", re.IGNORECASE)),
    ("financial_quarter", re.compile(r"Q([1-4])\s+(\d{4})[-/](\d{2})|(\d{4})[-/](\d{2})\s+Q([1-4])", re.IGNORECASE)),
    ("financial_year", re.compile(r"(?:FY\s*)?(\d{4})[-/](\d{2}|\d{4})", re.IGNORECASE)),
    ("span", re.compile(_MONTH + r"\s+(?:to|-|–)\s+" + _MONTH, re.IGNORECASE)),
    ("span_in_year", re.compile(r"([A-Za-z]+)\.?\s*(?:to|-|–)\s*" + _MONTH, re.IGNORECASE)),
]
# The longest period written in full, "September 2024 to September 2025", is 32 characters; a longer cell is not a
# period, and is refused by its length before any pattern reads it (a pattern over a long cell takes quadratic time).
MAX_PERIOD_CHARS = 48


def _period(start: dt.date, months: int, grain: str) -> tuple[dt.date, dt.date, str]:
    return start, add_months(start, months) - dt.timedelta(days=1), grain


def _month(name: str, year: str) -> dt.date | None:
    number = MONTHS.get(name.lower())
    return dt.date(int(year), number, 1) if number else None


def parse_period(text: str | None, financial_years: bool = False) -> tuple[dt.date, dt.date, str] | None:
    """(first day, last day, grain) of a period written as agencies write it, or None when not recognised.
    `financial_years`: the layout declares its periods financial years, so "2011-12" (a month, or the year April
    2011 to March 2012) is the financial year."""
    if text is None:
        return None
    text = text.strip()
    if len(text) > MAX_PERIOD_CHARS:
        return None
    for kind, pattern in PATTERNS:
        match = pattern.fullmatch(text)
        if not match:
            continue
        groups = match.groups()
        if kind == "iso":
            year, month, day = groups
            if not 1 <= int(month) <= 12 or (day and not _valid(year, month, day)):
                continue  # "2016-17" is a financial year, not month 17
            if financial_years and not day and _consecutive(year, month):
                continue
            return _period(dt.date(int(year), int(month), 1), 1, "month")
        if kind == "month_name":
            start = _month(*groups)
            return _period(start, 1, "month") if start else None
        if kind == "quarter":
            year, quarter = (groups[0], groups[1]) if groups[0] else (groups[3], groups[2])
            return _period(dt.date(int(year), 3 * int(quarter) - 2, 1), 3, "quarter")
        if kind == "financial_quarter":
            quarter, year, short = groups[:3] if groups[0] else (groups[5], groups[3], groups[4])
            if not _consecutive(year, short):
                return None
            return _period(add_months(dt.date(int(year), 4, 1), 3 * (int(quarter) - 1)), 3, "quarter")
        if kind == "financial_year":
            year, second = groups
            return _period(dt.date(int(year), 4, 1), 12, "financial_year") if _consecutive(year, second) else None
        if kind in ("span", "span_in_year"):
            if kind == "span_in_year":  # "Jan - Mar 2015"; "Oct - Mar 2015" crosses into 2015
                groups = (groups[0], groups[2], *groups[1:])
                first, last_named = MONTHS.get(groups[0].lower()), MONTHS.get(groups[2].lower())
                if first and last_named and first > last_named:
                    groups = (groups[0], str(int(groups[1]) - 1), *groups[2:])
            start, last = _month(groups[0], groups[1]), _month(groups[2], groups[3])
            if not start or not last or last < start:
                return None
            months = (last.year - start.year) * 12 + last.month - start.month + 1
            if months == 12:
                return _period(start, 12, "financial_year" if start.month == 4 else "rolling_12_months")
            if months == 1:
                return _period(start, 1, "month")
            if months == 3 and start.month in (1, 4, 7, 10):
                return _period(start, 3, "quarter")
            return _period(start, months, "span")
    return None


def ending_period(period: tuple[dt.date, dt.date, str] | None, months: int) -> tuple[dt.date, dt.date, str] | None:
    """The `months` months that end with `period` (a publisher that labels a rolling year by its last quarter)."""
    if period is None or months <= 0:
        return period
    start = add_months(dt.date(period[1].year, period[1].month, 1), 1 - months)
    grain = "month" if months == 1 else ("financial_year" if months == 12 and start.month == 4
                                        else "rolling_12_months" if months == 12
                                        else "quarter" if months == 3 and start.month in (1, 4, 7, 10) else "span")
    return _period(start, months, grain)


def _valid(year: str, month: str, day: str) -> bool:
    try:
        dt.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _consecutive(year: str, second: str) -> bool:
    """'2024-25' and '2024/2025' name one April-March year; '2024-26' does not."""
    following = int(year) + 1
    return int(second) == (following % 100 if len(second) == 2 else following)


def _in_range(text: str, financial_years: bool = False) -> tuple[dt.date, dt.date, str] | None:
    """parse_period, with a period whose dates a calendar cannot hold (year 0000, or ending after 9999) not
    recognised rather than raised."""
    try:
        return parse_period(text, financial_years)
    except (ValueError, OverflowError):
        return None


def period_columns(column: str, values: list[str | None], months: dict[str, int] | None = None,
                   financial_years: bool = False) -> list[pl.Expr]:
    """period_start, period_end and grain for a text column, parsing each distinct value once. `months`: for
    values written by a header that labels a longer period by its end (value -> months ending there)."""
    months = months or {}
    parsed = {v: ending_period(_in_range(v, financial_years), months.get(v, 0)) for v in set(values) if v is not None}
    found = {v: p for v, p in parsed.items() if p is not None}
    return [pl.col(column).replace_strict({v: p[i] for v, p in found.items()}, default=None, return_dtype=dtype)
            .alias(name) for i, (name, dtype) in enumerate((("period_start", pl.Date), ("period_end", pl.Date),
                                                             ("grain", pl.String)))]


_namers = threading.local()  # an in-memory connection holding the shared formulas, one a thread (not shareable)


def period_name(grain: str, start: dt.date, end: dt.date) -> str:
    """The period's name, by the period_name macro of formulas.sql (`end`: its last month or last day)."""
    if not hasattr(_namers, "con"):
        _namers.con = duckdb.connect()
        _namers.con.execute(sql("formulas"))
    return _namers.con.execute("SELECT period_name(?, ?, ?)", [grain, start, end]).fetchone()[0]
