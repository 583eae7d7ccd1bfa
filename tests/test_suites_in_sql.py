"""The suites evaluated in DuckDB SQL (what a run does) give Great Expectations' own verdicts, counts and examples."""

import math
import subprocess
import sys

import duckdb
import pandas as pd

from expectations.result import Failure
from expectations.runner import run_expectations, run_suite
from expectations.sql import nan_as_infinity, validate
from expectations.suites import BLOCKING
from tests.operations import PROCESS_SECONDS, REPO
from tests.test_checks import BREAKAGES


def both(con, table: str, relation: str | None = None, warnings: bool = False):
    """(SQL's result, Great Expectations' result) of a table's suite on `relation`."""
    frame = con.execute(nan_as_infinity(con, relation or table)).df()
    return validate(con, table, relation, warnings), run_suite(table, frame, warnings)


def test_every_suite_agrees_with_great_expectations_on_the_built_tables_and_on_each_breakage(copied):
    store, _ = copied
    with store.connect() as con:
        for table in BLOCKING:
            in_sql, in_gx = both(con, table)
            assert (in_sql.success, in_sql.rows) == (True, in_gx.rows) and in_gx.success, table
        for table, (statement, expectation) in BREAKAGES.items():
            con.execute("BEGIN")
            con.execute(statement)
            in_sql, in_gx = both(con, table)
            con.execute("ROLLBACK")
            assert expectation in {f.expectation for f in in_sql.failures}, table
            assert in_sql == in_gx, table


def test_the_warnings_suite_agrees_on_a_threefold_jump(copied):
    store, _ = copied
    with store.connect() as con:
        con.execute("UPDATE kpi_cost_per_transaction SET transactions_completed = transactions_completed * 4 "
                    "WHERE service_id = 'REV-001' AND month = '2025-09-01' AND channel = 'all'")
        from transforms import sql
        in_sql, in_gx = both(con, "kpi_cost_per_transaction", sql("check_month_on_month"), warnings=True)
    assert [(f.column, f.unexpected_count) for f in in_sql.failures] == [("volume_ratio", 2)]
    assert in_sql == in_gx


def test_missing_columns_nan_empty_values_and_repeats_count_as_great_expectations_counts_them():
    con = duckdb.connect()
    con.execute("CREATE TABLE kpi_completion_rate AS SELECT * FROM (VALUES "
                "('A', DATE '2025-01-01', 'online', 10, 12, 0.9), ('A', DATE '2025-01-01', 'online', 10, 9, 1.2), "
                "('B', DATE '2025-02-01', 'phone', NULL, 5, 'nan'::DOUBLE), "
                "('C', DATE '2025-02-01', 'fax', -1, 5, NULL), "
                "(NULL, NULL, NULL, 1, 1, 'inf'::DOUBLE), (NULL, NULL, NULL, 2, 2, 0.5)"
                ") v(service_id, month, channel, transactions_started, transactions_completed, completion_rate)")
    in_sql, in_gx = both(con, "kpi_completion_rate")
    assert [(f.expectation, f.column, f.unexpected_count) for f in in_sql.failures] == [
        ("expect_compound_columns_to_be_unique", None, 2),
        ("expect_column_values_to_not_be_null", "service_id", 2),
        ("expect_column_values_to_not_be_null", "month", 2),
        ("expect_column_values_to_not_be_null", "channel", 2),
        ("expect_column_values_to_be_between", "completion_rate", 3)]
    nan = in_sql.failures[4].examples[1].pop("completion_rate")
    assert math.isnan(nan)  # shown as it is: Great Expectations, given a frame, sees NaN as +infinity
    assert in_sql.failures[4].examples == [
        {"completion_rate": 1.2, "service_id": "A", "month": "2025-01-01 00:00:00", "channel": "online"},
        {"service_id": "B", "month": "2025-02-01 00:00:00", "channel": "phone"},
        {"completion_rate": float("inf"), "service_id": None, "month": None, "channel": None}]
    # Great Expectations shows an empty text as NaN; otherwise the same
    assert [(f.expectation, f.column, f.unexpected_count) for f in in_gx.failures] == [
        (f.expectation, f.column, f.unexpected_count) for f in in_sql.failures]
    assert in_sql.failures[0].examples == in_gx.failures[0].examples
    con.execute("ALTER TABLE kpi_completion_rate DROP COLUMN completion_rate")
    in_sql, in_gx = both(con, "kpi_completion_rate")
    assert [in_sql.failures[0], in_sql.failures[-1]] == [in_gx.failures[0], in_gx.failures[-1]] == [
        Failure("expect_table_columns_to_match_set", None, "downstream SQL and the published schema rely on these "
                "columns", None, [["channel", "month", "service_id", "transactions_completed",
                                   "transactions_started"]]),
        Failure("expect_column_values_to_be_between", "completion_rate",
                "completion_rate is a share and must lie in [0, 1]", None, [None])]


def test_an_expectation_with_no_sql_here_is_left_to_great_expectations():
    con = duckdb.connect()
    con.execute("CREATE TABLE stg_agencies AS SELECT * FROM (VALUES ('land'), ('Sea')) v(agency_id)")
    suite = [{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "agency_id", "regex": "^[a-z]+$"},
              "meta": {"why": "agency ids are lower case"}}]
    result = validate(con, "stg_agencies", suite=suite)
    assert result == run_expectations("stg_agencies.blocking", suite, pd.DataFrame({"agency_id": ["land", "Sea"]}),
                                      ("agency_id",))
    assert [(f.expectation, f.unexpected_count, f.examples) for f in result.failures] == [
        ("expect_column_values_to_match_regex", 1, [{"agency_id": "Sea"}])]


def test_evaluating_a_suite_in_sql_imports_no_great_expectations():
    """What a run's checks save: Great Expectations' import (a second or more of CPU)."""
    probe = ("import sys, duckdb; from expectations.sql import validate; con = duckdb.connect(); "
             "con.execute(\"CREATE TABLE kpi_completion_rate AS SELECT 'A' AS service_id, DATE '2025-01-01' AS month, "
             "'all' AS channel, 2 AS transactions_started, 1 AS transactions_completed, 0.5 AS completion_rate\"); "
             "print(validate(con, 'kpi_completion_rate').success, 'great_expectations' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                          timeout=PROCESS_SECONDS)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True False"
