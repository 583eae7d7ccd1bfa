"""The shared warehouse library does what every stage relies on: the schema once per file, months replaced by column
name, a run's slice deleted by month and agency, one quarantine shape, and checksums read in chunks."""

import datetime as dt
import subprocess
import sys
import tracemalloc

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.defs.automation.sensors import fingerprints
from pipelines.defs.ingestion.assets import raw_api_returns
from pipelines.lib.files import sha256_file, write_atomically
from pipelines.lib.partitions import AGENCIES_TAG
from pipelines.lib.resources import DataStore, Settings
from pipelines.lib.tables import build_months
from pipelines.lib import quarantine
from pipelines.lib.warehouse import (CorruptWarehouse, StaleWarehouse, connect, delete_run_slice, held, memory_limit,
                                     replace_months)
from transforms import sql
from transforms.catalogue import CATALOGUE

DEC, JAN = dt.date(2025, 12, 1), dt.date(2026, 1, 1)


def quarantined(con) -> list[tuple]:
    return con.execute("SELECT return_type, agency_id, month, rule FROM quarantine ORDER BY ALL").fetchall()


def test_the_file_is_locked_while_a_connection_is_open_and_free_the_moment_the_last_one_closes(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    opens = [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"]  # another process
    with connect(path) as outer:
        with connect(path) as inner:  # nested: the same attached file
            inner.execute("CREATE TABLE nested AS SELECT 7 AS x")
        assert outer.execute("SELECT x FROM nested").fetchall() == [(7,)]
        assert subprocess.run(opens, capture_output=True).returncode != 0
    assert subprocess.run(opens, capture_output=True).returncode == 0
    with duckdb.connect(str(path), read_only=True) as plain:  # the formulas were never written into the file
        assert plain.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'cost_per_transaction'"
                             ).fetchone() == (0,)
        assert plain.execute("SELECT x FROM nested").fetchall() == [(7,)]


def test_held_keeps_the_file_from_its_first_connection_to_the_end_of_the_block(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    opens = [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"]  # another process
    with held(path):
        assert not path.exists()  # nothing attached before a connection asks for it
        with connect(path) as con:
            con.execute("CREATE TABLE step_one AS SELECT 1 AS x")
        assert subprocess.run(opens, capture_output=True).returncode != 0  # between steps: still this process's
        with connect(path) as con:
            assert con.execute("SELECT x FROM step_one").fetchall() == [(1,)]
    assert subprocess.run(opens, capture_output=True).returncode == 0
    with duckdb.connect(str(path), read_only=True) as plain:  # written through when the block ended
        assert plain.execute("SELECT x FROM step_one").fetchall() == [(1,)]


def test_a_steps_memory_budget_ends_with_it_even_when_it_fails(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with held(path), connect(path) as con:
        default = con.execute("SELECT current_setting('memory_limit')").fetchone()
        with pytest.raises(ZeroDivisionError), memory_limit(con, "123MB"):
            assert con.execute("SELECT current_setting('memory_limit')").fetchone() != default
            1 / 0
        with connect(path) as later:  # the next step's connection, on the same attached file
            assert later.execute("SELECT current_setting('memory_limit')").fetchone() == default


def test_a_failed_connection_leaves_nothing_of_its_open_transaction(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with pytest.raises(ZeroDivisionError), connect(path) as con:
        con.execute("BEGIN")
        con.execute("CREATE TABLE half AS SELECT 1 AS x")
        1 / 0
    with connect(path) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half'").fetchone() == (0,)


def test_the_schema_is_created_once_per_file_not_per_connection(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:
        con.execute("DROP VIEW current_submissions")  # a later connection that re-ran schema.sql would restore it
    with connect(path) as con:
        views = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'current_submissions'").fetchone()
        macros = con.execute("SELECT cost_per_transaction(10.0, 4)").fetchone()  # formulas: every connection
        version = con.execute("SELECT version FROM schema_version").fetchall()
    assert views == (0,) and macros == (2.5,) and len(version) == 1
    path.unlink()
    with connect(path) as con:  # a new file gets its schema
        assert con.execute("SELECT count(*) FROM current_submissions").fetchone() == (0,)


def test_replace_months_inserts_by_name_into_a_table_of_an_older_shape(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as con:
        con.execute("CREATE TABLE figures AS SELECT DATE '2025-11-01' AS month, 7 AS volume")  # an older shape
        query = "SELECT 'S1' AS service_id, CAST($start AS DATE) AS month, 3 AS volume"
        replace_months(con, "figures", query, DEC, JAN)
        assert con.execute("SELECT * FROM figures ORDER BY month").fetchall() == [("S1", DEC, 3)]
        con.execute("CREATE OR REPLACE TABLE figures AS SELECT 9 AS volume, DATE '2025-11-01' AS month, 'S0' AS "
                    "service_id")  # same columns, another order: kept, matched by name
        replace_months(con, "figures", query, DEC, JAN)
        assert con.execute("SELECT service_id, month, volume FROM figures ORDER BY month").fetchall() == \
            [("S1", DEC, 3)]


def test_fact_months_are_replaced_and_other_months_kept(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as con:
        con.execute("INSERT INTO stg_service_catalogue VALUES ('S1', 'One', 'ag', 'Dept', 'licence', 'citizen', "
                    "['online'], false, NULL)")
        for month in (DEC, JAN):
            con.execute("INSERT INTO stg_transactions (period_start, period_end, grain, service_id, month, channel, "
                        "transactions_started, transactions_completed, agency_id, source_file, source_row) "
                        "VALUES (?, last_day(?), 'month', 'S1', ?, 'online', 5, 4, 'ag', 't.csv', 1)",
                        [month, month, month])
        build_months(con, CATALOGUE["fct_service_month_channel"], DEC, dt.date(2026, 2, 1))
        con.execute("UPDATE stg_transactions SET transactions_completed = 5 WHERE month = ?", [JAN])
        build_months(con, CATALOGUE["fct_service_month_channel"], JAN, dt.date(2026, 2, 1))
        assert con.execute("SELECT month, transactions_completed FROM fct_service_month_channel ORDER BY month"
                           ).fetchall() == [(DEC, 4), (JAN, 5)]


def test_a_run_slice_is_its_months_and_only_its_agencies(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as con:
        rows = [{"return_type": "api_fetch", "agency_id": agency, "month": month, "source_file": "f", "sha256": "",
                 "rule": "http_error", "message": "m"} for agency in ("a", "b") for month in (DEC, JAN)]
        quarantine.write(con, rows)
        assert len(quarantined(con)) == 4
        delete_run_slice(con, "quarantine", DEC, JAN, ["a"], return_type="api_fetch")
        assert quarantined(con) == [("api_fetch", "a", JAN, "http_error"), ("api_fetch", "b", DEC, "http_error"),
                                    ("api_fetch", "b", JAN, "http_error")]
        delete_run_slice(con, "quarantine", DEC, JAN, None)
        assert quarantined(con) == [("api_fetch", "a", JAN, "http_error"), ("api_fetch", "b", JAN, "http_error")]


def test_a_run_limited_to_some_agencies_keeps_other_agencies_fetch_failures(tmp_path):
    store = DataStore(data_dir=str(tmp_path / "data"))
    with store.connect() as con:
        quarantine.write(con, [{"return_type": "api_fetch", "agency_id": "elsewhere", "month": DEC,
                                "source_file": "elsewhere/2025-12/transactions.json", "sha256": "",
                                "rule": "http_error", "message": "HTTP 503 after 3 attempts"}])
    result = dg.materialize([raw_api_returns], resources={"store": store, "settings": Settings()},
                            partition_key="2025-12-01",
                            instance=dg.DagsterInstance.ephemeral(), tags={AGENCIES_TAG: "passports"})
    assert result.success
    with store.connect() as con:
        assert quarantined(con) == [("api_fetch", "elsewhere", DEC, "http_error")]


def test_the_sensor_hashes_landed_files_in_chunks(tmp_path):
    store = DataStore(data_dir=str(tmp_path / "data"))
    big = store.landing / "revenue" / "2025-12" / "extract-1.csv"
    write_atomically(big, lambda path: path.write_bytes(b"x" * (64 << 20)))
    tracemalloc.start()
    try:
        found = fingerprints(store, {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found["revenue/2025-12/extract-1.csv"][2] == sha256_file(big)
    assert peak < 8 << 20  # a 64 MB file is never held whole


def _column_names(con, table: str) -> list[str]:
    return [name for (name,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                             "ORDER BY column_index", [table]).fetchall()]


def test_a_warehouse_made_by_an_older_version_is_brought_to_the_schema_with_its_rows(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:  # revisions as an older version left it: no grain or source yet
        con.execute("CREATE TABLE revisions (table_name VARCHAR NOT NULL, service_id VARCHAR NOT NULL, "
                    "month DATE NOT NULL, channel VARCHAR, column_name VARCHAR NOT NULL, old_value DOUBLE, "
                    "new_value DOUBLE, revised_at TIMESTAMPTZ, retired_column INTEGER)")
        con.execute("INSERT INTO revisions VALUES ('kpi_digital_take_up', 'PEN-001', DATE '2025-07-01', NULL, "
                    "'digital_take_up_rate', 0.5, 0.625, NULL, 7)")
        con.execute("CREATE TABLE schema_version AS SELECT 'an older one' AS version")
    with connect(path) as con:
        columns, rows = _column_names(con, "revisions"), con.execute("SELECT * FROM revisions").fetchall()
    with duckdb.connect() as fresh:
        fresh.execute(sql("schema"))
        assert columns == _column_names(fresh, "revisions")
    assert columns[-2:] == ["grain", "source"] and "retired_column" not in columns
    assert rows == [("kpi_digital_take_up", "PEN-001", dt.date(2025, 7, 1), None, "digital_take_up_rate", 0.5, 0.625,
                     None, None, None)]


def test_an_older_warehouse_that_cannot_take_the_new_shape_is_refused_by_name_and_left_as_it_was(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:  # before agencies had a cadence and a first month (both required)
        con.execute("CREATE TABLE stg_agencies (agency_id VARCHAR PRIMARY KEY, agency_name VARCHAR NOT NULL, "
                    "department VARCHAR NOT NULL, connector VARCHAR NOT NULL, return_due_day INTEGER NOT NULL)")
        con.execute("INSERT INTO stg_agencies VALUES ('pensions', 'Pensions Agency', 'DWP', 'file_drop', 10)")
        con.execute("CREATE TABLE schema_version AS SELECT 'an older one' AS version")
    with pytest.raises(StaleWarehouse, match=r"older version and its table stg_agencies .*`make clean`"):
        with connect(path):
            pass
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT version FROM schema_version").fetchall() == [("an older one",)]
        assert _column_names(con, "stg_agencies") == ["agency_id", "agency_name", "department", "connector",
                                                      "return_due_day"]
        assert con.execute("SELECT count(*) FROM stg_agencies").fetchall() == [(1,)]


def test_a_damaged_or_truncated_file_is_refused_naming_the_backup_and_restore_that_repair_it(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:
        con.execute("CREATE TABLE t AS SELECT md5(range::VARCHAR) AS s FROM range(200000)")
    with path.open("r+b") as file:  # a block of the table's data overwritten: its checksum no longer matches
        file.seek(3 * 4096 + 8)
        file.write(b"\xff" * 100_000)
    with pytest.raises(CorruptWarehouse, match=rf"^the warehouse {path} is damaged or truncated: DuckDB cannot read "
                                               r"it \(.*Corrupt database file: computed checksum \d+ does not match "
                                               r"stored checksum \d+ in block at location \d+\)\. Restore the latest "
                                               r"backup into a new data folder .* README, \"Housekeeping, backup and "
                                               r"restore\"$"):
        with connect(path) as con:
            con.execute("SELECT count(DISTINCT s) FROM t").fetchall()
    path.write_bytes(b"")
    with pytest.raises(CorruptWarehouse, match=rf"^the warehouse {path} is damaged or truncated: DuckDB cannot read "
                                               rf"it \(IO Error: The file \"{path}\" exists, but it is not a valid "
                                               r"DuckDB database file!\)\. Restore the latest backup "):
        with connect(path):
            pass
    with connect(tmp_path / "other.duckdb") as con:  # a failed query of a sound file is DuckDB's error as it is
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT * FROM no_such_table")


def test_the_writer_refuses_accounting_rows_that_do_not_add_up_and_writes_nothing(tmp_path):
    good = {"return_type": "transactions", "agency_id": "a", "month": DEC, "source_file": "a/2025-12/t.csv",
            "sha256": "s", "file_status": "read", "rows_read": 5, "rows_accepted": 3, "rows_quarantined": 2,
            "rows_markers_only": 1}
    bad = {**good, "source_file": "a/2025-12/c.csv", "rows_quarantined": 1}
    with connect(tmp_path / "warehouse.duckdb") as con:
        with pytest.raises(quarantine.AccountingMismatch, match=r"1 accounting row\(s\) do not add up"):
            quarantine.write(con, [{"return_type": "transactions", "source_file": "a/2025-12/c.csv", "sha256": "s",
                                    "rule": "r", "message": "m"}], [good, bad])
        assert con.execute("SELECT (SELECT count(*) FROM quarantine), (SELECT count(*) FROM submission_accounting)"
                           ).fetchall() == [(0, 0)]
        quarantine.write(con, accounting=[good])
        assert con.execute("SELECT source_file, rows_read, rows_markers_only, superseded_by FROM submission_accounting"
                           ).fetchall() == [("a/2025-12/t.csv", 5, 1, None)]



def test_the_writer_gives_every_column_its_ddl_default_where_rows_leave_it_out(tmp_path):
    row = {"return_type": "transactions", "agency_id": "a", "month": DEC, "source_file": "a/2025-12/t.csv",
           "sha256": "s", "rule": "r", "message": "m"}
    with connect(tmp_path / "warehouse.duckdb") as con:
        defaults = con.execute("SELECT column_name, column_default FROM duckdb_columns() WHERE table_name = "
                               "'quarantine' AND column_default IS NOT NULL").fetchall()
        assert defaults == [("rows_represented", "1")]  # the DDL's one default today; the writer names none
        quarantine.write(con, [row, {**row, "row_number": 2, "rows_represented": 7}])  # left out, given
        quarantine.write(con, pl.DataFrame([{**row, "row_number": 3}]))  # a frame without the column
        quarantine.write(con, pl.DataFrame([{**row, "row_number": 4, "rows_represented": None}]))  # NULL given
        assert con.execute("SELECT row_number, rows_represented FROM quarantine ORDER BY row_number NULLS FIRST"
                           ).fetchall() == [(None, 1), (2, 7), (3, 1), (4, 1)]
