"""Transaction-level extracts: each quality gate quarantines its row by file, row and rule; the rest reach the facts."""

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from benchmarks.generate import generate
from pipelines.definitions import assets, checks
from pipelines.defs.staging import extracts as extracts_module
from pipelines.defs.staging.extracts import RETURN_TYPE, extract_patterns, stage_extracts, stg_extract_transactions
from pipelines.defs.ingestion.assets import archive_all
from pipelines.lib.config import load_config
from pipelines.lib.resources import DataStore, Settings
from tests.operations import PROCESS_SECONDS, one_slot_pool_home

MONTH = "customs/2025-01"
PARQUET, CSV = f"{MONTH}/extract-defects.parquet", f"{MONTH}/extract-defects.csv"
BROKEN, SHORT = f"{MONTH}/extract-broken.parquet", f"{MONTH}/extract-short.csv"
T = "TIMESTAMP"

# Rows of extract-defects.parquet: (transaction_id, service_id, channel, started_at, completed_at, outcome).
# CUS-009 is a service with no online channel (benchmarks/generate.py: every ninth has none).
DEFECTS = [
    ("D-1", "CUS-001", "online", "2025-01-02 10:00:00", "2025-01-02 11:00:00", "completed"),   # 1 repeats csv row 1
    (None, "CUS-001", "online", "2025-01-02 10:00:00", None, "abandoned"),                    # 2
    ("D-3", "XXX-999", "online", "2025-01-02 10:00:00", None, "abandoned"),                   # 3
    ("D-4", "LIC-001", "online", "2025-01-02 10:00:00", None, "abandoned"),                   # 4
    ("D-5", "CUS-001", "fax", "2025-01-02 10:00:00", None, "abandoned"),                      # 5
    ("D-6", "CUS-009", "online", "2025-01-02 10:00:00", None, "abandoned"),                   # 6
    ("D-7", "CUS-001", "online", "2025-02-01 00:00:00", None, "abandoned"),                   # 7
    ("D-8", "CUS-001", "online", "2025-01-05 10:00:00", "2025-01-05 09:00:00", "completed"),  # 8
    ("D-9", "CUS-001", "online", "2025-01-05 10:00:00", None, "lost"),                        # 9
    ("D-10", "CUS-001", "online", "2025-01-05 10:00:00", "2025-01-06 10:00:00", "abandoned"), # 10
    ("D-11", "CUS-001", "online", "2025-01-07 10:00:00", "2025-01-07 10:30:00", "completed"), # 11 kept
    ("D-11", "CUS-001", "online", "2025-01-07 10:00:00", "2025-01-07 10:30:00", "completed"), # 12
    ("D-13", "CUS-001", "online", "2025-01-08 10:00:00", None, "abandoned"),                  # 13
    ("D-13", "CUS-001", "phone", "2025-01-08 10:00:00", None, "abandoned"),                   # 14
]
CSV_TEXT = """transaction_id,service_id,channel,started_at,completed_at,outcome
D-1,CUS-001,online,2025-01-02 10:00:00,2025-01-02 11:00:00,completed
D-20,CUS-001,online,yesterday,,abandoned
D-21,CUS-001,online,2025-01-03 10:00:00,2025-13-01 10:00:00,completed
D-22,,online,2025-01-03 10:00:00,,abandoned
D-23,CUS-001,online,2025-01-04 10:00:00,2025-01-04 12:00:00,completed
"""
EXPECTED = {  # (file, row) -> (rule, column, offending value)
    (CSV, 2): ("not_a_timestamp", "started_at", "yesterday"),
    (CSV, 3): ("not_a_timestamp", "completed_at", "2025-13-01 10:00:00"),
    (CSV, 4): ("required_value_missing", "service_id", None),
    (PARQUET, 1): ("duplicate_row", "transaction_id", "D-1"),
    (PARQUET, 2): ("required_value_missing", "transaction_id", None),
    (PARQUET, 3): ("unknown_service", "service_id", "XXX-999"),
    (PARQUET, 4): ("service_of_another_agency", "service_id", "LIC-001"),
    (PARQUET, 5): ("unknown_channel", "channel", "fax"),
    (PARQUET, 6): ("channel_not_offered", "channel", "online"),
    (PARQUET, 7): ("month_outside_return_period", "started_at", "2025-02-01 00:00:00"),
    (PARQUET, 8): ("completed_before_started", "completed_at", "2025-01-05 09:00:00"),
    (PARQUET, 9): ("unknown_outcome", "outcome", "lost"),
    (PARQUET, 10): ("outcome_contradicts_completion", "outcome", "abandoned"),
    (PARQUET, 12): ("duplicate_row", "transaction_id", "D-11"),
    (PARQUET, 13): ("conflicting_duplicate", "transaction_id", "D-13"),
    (PARQUET, 14): ("conflicting_duplicate", "transaction_id", "D-13"),
}
ACCEPTED_CUS_001_ONLINE = 3  # csv rows 1 and 5, parquet row 11


def settings_of(store: DataStore) -> Settings:
    """The registry of the extract agencies, which benchmarks/generate.py writes beside the landing folder."""
    return Settings(config_dir=str(store.root / "config"))


def patterns_of(store: DataStore) -> dict[str, str]:
    return extract_patterns(load_config(store.root / "config"))


def run_to_published(store: DataStore, start: str, end: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*assets, *checks], resources={"store": store, "settings": settings_of(store)},
        instance=dg.DagsterInstance.ephemeral(),
        selection=dg.AssetSelection.assets("pub_open_data").upstream(), raise_on_error=False,
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end})


def write_defects(landing: Path) -> None:
    values = ", ".join(f"({', '.join('NULL' if v is None else repr(v) for v in row)})" for row in DEFECTS)
    duckdb.connect().execute(
        f"COPY (SELECT col0 AS transaction_id, col1 AS service_id, col2 AS channel, CAST(col3 AS {T}) AS started_at, "
        f"CAST(col4 AS {T}) AS completed_at, col5 AS outcome FROM (VALUES {values})) "
        f"TO '{landing / PARQUET}' (FORMAT parquet)")
    (landing / CSV).write_text(CSV_TEXT, encoding="utf-8")
    (landing / BROKEN).write_bytes(b"PAR1 this is not a parquet file")
    (landing / SHORT).write_text("transaction_id,service_id,channel,started_at,completed_at\n"
                                 "S-1,CUS-001,online,2025-01-02 10:00:00,\n", encoding="utf-8")


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    """(store, result): clean generated extracts for 2025-01, the defect files beside them, the whole path run."""
    root = tmp_path_factory.mktemp("extracts")
    generate(root, 6_000, months=1, rows_per_file=4_000)
    write_defects(root / "landing")
    store = DataStore(data_dir=str(root))
    return store, run_to_published(store, "2025-01-01", "2025-01-01")


def query(store: DataStore, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(store.warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_the_run_succeeds_with_every_blocking_check_passing(extracts):
    _, result = extracts
    assert result.success
    blocking = {f"{c.asset_key.to_user_string()}:{c.check_name}": c.passed
                for c in result.get_asset_check_evaluations() if c.severity == dg.AssetCheckSeverity.ERROR}
    assert blocking["stg_extract_transactions:valid"] is True
    assert blocking["kpi_processing_time:valid"] is True
    assert all(blocking.values())


def test_only_the_month_with_repeated_ids_pays_for_the_duplicate_check(extracts):
    _, result = extracts
    metadata = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                    if e.asset_key.to_user_string() == "stg_extract_transactions")
    # licensing sends generated files only (ids ascending, files apart); customs' defect files repeat ids
    assert (metadata["agency_months_ids_ascending"].value, metadata["agency_months_ids_sorted"].value) == (1, 1)


def test_every_rule_quarantines_its_row_by_file_row_and_rule(extracts):
    store, _ = extracts
    rows = query(store, "SELECT source_file, row_number, rule, column_name, offending_value, message FROM quarantine "
                        "WHERE return_type = ? AND row_number IS NOT NULL", [RETURN_TYPE])
    assert {(f, r): (rule, column, value) for f, r, rule, column, value, _ in rows} == EXPECTED
    assert len(rows) == len(EXPECTED)  # each rejected row once, with its first rule
    messages = {(f, r): message for f, r, _, _, _, message in rows}
    assert messages[(PARQUET, 8)] == ("transaction D-8: completed 2025-01-05 09:00:00, before it started "
                                      "(2025-01-05 10:00:00)")
    assert messages[(PARQUET, 6)] == "transaction D-6: the catalogue says CUS-009 has no online channel"


def test_unreadable_files_are_quarantined_whole_with_the_reason(extracts):
    store, _ = extracts
    rows = dict(query(store, "SELECT source_file, offending_value FROM quarantine WHERE return_type = ? "
                             "AND rule = 'unreadable_file' AND row_number IS NULL", [RETURN_TYPE]))
    assert set(rows) == {BROKEN, SHORT}
    assert rows[SHORT] == ("missing column(s): outcome (an extract has transaction_id, service_id, channel, "
                           "started_at, completed_at, outcome)")
    assert rows[BROKEN].startswith("InvalidInputException")


def test_rows_read_equal_rows_accepted_plus_quarantined_for_every_file(extracts):
    store, _ = extracts
    accounting = {f: (status, read, accepted, rejected) for f, status, read, accepted, rejected in query(
        store, "SELECT source_file, file_status, rows_read, rows_accepted, rows_quarantined FROM submission_accounting "
               "WHERE return_type = ?", [RETURN_TYPE])}
    assert accounting[PARQUET] == ("read", 14, 1, 13)
    assert accounting[CSV] == ("read", 5, 2, 3)
    assert accounting[BROKEN] == ("unreadable", 0, 0, 0)
    for clean in ("extract-000.parquet", "extract-001.parquet"):  # customs: 70% of 6,000 in two files, all clean
        assert accounting[f"{MONTH}/{clean}"] == ("read", 2_100, 2_100, 0)
    assert all(read == accepted + rejected for _, read, accepted, rejected in accounting.values())


def test_aggregates_count_the_accepted_rows_only(extracts):
    store, _ = extracts
    clean = query(store, "SELECT count(*), count(completed_at) FROM read_parquet(?) "
                         "WHERE service_id = 'CUS-001' AND channel = 'online'",
                  [[str(p) for p in (store.landing / MONTH).glob("extract-00*.parquet")]])[0]
    staged = query(store, "SELECT transactions_started, transactions_completed FROM stg_extract_transactions "
                          "WHERE service_id = 'CUS-001' AND channel = 'online' AND month = '2025-01-01'")
    assert staged == [(clean[0] + ACCEPTED_CUS_001_ONLINE, clean[1] + ACCEPTED_CUS_001_ONLINE)]


def test_offered_channels_without_transactions_are_zero_not_missing(extracts):
    store, _ = extracts
    rows = query(store, "SELECT count(*), count(*) FILTER (WHERE transactions_started = 0), "
                        "count(*) FILTER (WHERE transactions_started IS NULL) FROM fct_service_month_channel "
                        "WHERE agency_id = 'customs'")
    offered = query(store, "SELECT count(*) FROM (SELECT unnest(channels_offered) FROM stg_service_catalogue "
                           "WHERE agency_id = 'customs')")[0][0]
    total, zeros, missing = rows[0]
    assert total == offered and missing == 0
    assert zeros == query(store, "SELECT count(*) FROM stg_extract_transactions WHERE agency_id = 'customs' "
                                 "AND channel <> 'all' AND transactions_started = 0")[0][0]


def test_extract_figures_reach_the_facts_and_the_published_kpis(extracts):
    store, _ = extracts
    staged = query(store, "SELECT service_id, channel, transactions_started, transactions_completed "
                          "FROM stg_extract_transactions WHERE channel <> 'all' ORDER BY ALL")
    facts = query(store, "SELECT service_id, channel, transactions_started, transactions_completed "
                         "FROM fct_service_month_channel ORDER BY ALL")
    assert facts == staged
    published = duckdb.connect().execute(
        "SELECT channel, transactions_started, transactions_completed, time_to_complete_median_seconds "
        "FROM read_parquet(?) WHERE service_id = 'CUS-001' AND channel = 'all'",
        [str(store.published / "kpi_processing_time.parquet")]).fetchall()
    total = query(store, "SELECT sum(transactions_started), sum(transactions_completed) FROM stg_extract_transactions "
                         "WHERE service_id = 'CUS-001' AND channel <> 'all'")[0]
    assert [row[:3] for row in published] == [("all", *total)]
    rate = duckdb.connect().execute(
        "SELECT transactions_started, completion_rate FROM read_parquet(?) WHERE service_id = 'CUS-001' "
        "AND channel = 'all'", [str(store.published / "kpi_completion_rate.parquet")]).fetchall()
    assert rate == [(total[0], total[1] / total[0])]


def test_re_staging_the_same_month_changes_nothing(extracts, tmp_path):
    store, _ = extracts
    shutil.copytree(store.root, tmp_path / "data")
    copy = DataStore(data_dir=str(tmp_path / "data"))
    tables = ("SELECT * FROM stg_extract_transactions ORDER BY ALL",
              f"SELECT * FROM quarantine WHERE return_type = '{RETURN_TYPE}' ORDER BY ALL",
              f"SELECT * FROM submission_accounting WHERE return_type = '{RETURN_TYPE}' ORDER BY ALL")
    before = [query(copy, q) for q in tables]
    stage_extracts(copy, patterns_of(copy), dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    assert [query(copy, q) for q in tables] == before
    assert len(before[1]) == len(EXPECTED) + 2


def test_a_month_too_large_for_one_pass_gives_the_same_figures_in_two(extracts, tmp_path, monkeypatch):
    store, _ = extracts
    shutil.copytree(store.root, tmp_path / "data")
    copy = DataStore(data_dir=str(tmp_path / "data"))
    one_pass = query(copy, "SELECT * FROM stg_extract_transactions ORDER BY ALL")
    monkeypatch.setattr(extracts_module, "ONE_PASS_ROWS", 1_000)  # customs' 4,219 rows now take two passes
    stage_extracts(copy, patterns_of(copy), dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    assert query(copy, "SELECT * FROM stg_extract_transactions ORDER BY ALL") == one_pass


def test_the_archive_hashes_and_copies_a_file_larger_than_memory_chunks(tmp_path):
    store = DataStore(data_dir=str(tmp_path))
    path = store.landing / "customs" / "2025-01" / "extract-big.parquet"
    path.parent.mkdir(parents=True)
    data = os.urandom(3 * 1024 * 1024 + 17)  # several hashing chunks, and an odd tail
    path.write_bytes(data)
    assert archive_all(store, [(path, "customs", dt.date(2025, 1, 1))])["files_new"] == 1
    assert archive_all(store, [(path, "customs", dt.date(2025, 1, 1))])["files_new"] == 0  # same bytes: nothing new
    with store.connect() as con:
        sha, size, archived = con.execute("SELECT sha256, size_bytes, archive_path FROM raw_submissions").fetchone()
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    assert (store.archive / archived).read_bytes() == data


PARALLEL_DEFS = """
import time

import dagster as dg
from pipelines.defs.staging.extracts import stg_extract_transactions
from pipelines.lib.resources import DataStore, Settings


@dg.asset(partitions_def=stg_extract_transactions.partitions_def)
def both_runs_started(context) -> None:
    \"\"\"Outside the pool: holds its run open until the other run has started too, so the two runs overlap
    however the machine schedules their processes (the deadline only turns a hang into a failure).\"\"\"
    deadline = time.monotonic() + SECONDS
    started = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS])
    while context.instance.get_runs_count(started) < 2:
        assert time.monotonic() < deadline, "the other run never started"
        time.sleep(0.1)


# Each run executes its steps in their own processes; the pool keeps warehouse writers to one at a time.
defs = dg.Definitions(
    assets=[stg_extract_transactions, both_runs_started],
    jobs=[dg.define_asset_job("extracts", selection=[stg_extract_transactions, both_runs_started],
                              executor_def=dg.multiprocess_executor)],
    resources={"store": DataStore(data_dir=DATA), "settings": Settings(config_dir=DATA + "/config")},
)
"""


EVENT = dg.DagsterEventType


def test_months_run_in_parallel_processes_without_corrupting_the_warehouse(tmp_path):
    """Two runs, one per month, launched at once with the multiprocess executor: their own events show that they
    overlapped and that the `warehouse` pool let one writer in at a time; both succeed, and the warehouse holds what a
    sequential build gives."""
    root = tmp_path / "data"
    generate(root, 8_000, months=2, rows_per_file=2_000)
    store = DataStore(data_dir=str(root))
    setup = dg.materialize([*assets, *checks], resources={"store": store, "settings": settings_of(store)},
                           instance=dg.DagsterInstance.ephemeral(),
                           selection=dg.AssetSelection.assets("raw_agency_returns", "stg_service_catalogue").upstream()
                           .without_checks(),  # the catalogue's checks also read the facts, not built here
                           tags={"dagster/asset_partition_range_start": "2025-01-01",
                                 "dagster/asset_partition_range_end": "2025-02-01"}, raise_on_error=False)
    assert setup.success

    home = one_slot_pool_home(tmp_path / "dagster_home")
    code = tmp_path / "parallel_defs.py"
    code.write_text(f"DATA, SECONDS = {str(root)!r}, {PROCESS_SECONDS}\n" + PARALLEL_DEFS, encoding="utf-8")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    logs = [tmp_path / f"run-{month}.log" for month in ("2025-01", "2025-02")]
    runs = [subprocess.Popen([sys.executable, "-m", "dagster", "job", "execute", "-f", str(code), "-j", "extracts",
                              "--tags", json.dumps({"dagster/partition": f"{log.stem[4:]}-01"})],
                             env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)  # files: a full pipe would block
            for log in logs]
    try:
        assert [run.wait(timeout=PROCESS_SECONDS) for run in runs] == [0, 0], [log.read_text()[-3000:] for log in logs]
    finally:
        for run in runs:
            run.kill()  # nothing left behind if a run hangs

    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records()
        assert sorted(r.dagster_run.tags["dagster/partition"] for r in records) == ["2025-01-01", "2025-02-01"]
        assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
        run_windows, writers = [], []
        for record in records:
            times = {(log.dagster_event.step_key, log.dagster_event.event_type): log.timestamp
                     for log in instance.all_logs(record.dagster_run.run_id) if log.dagster_event}
            run_windows.append((times[(None, EVENT.RUN_START)], times[(None, EVENT.RUN_SUCCESS)]))
            writers.append((times[("stg_extract_transactions", EVENT.STEP_START)],
                            times[("stg_extract_transactions", EVENT.STEP_SUCCESS)]))
    (first_run, second_run), (first, second) = sorted(run_windows), sorted(writers)
    assert second_run[0] < first_run[1]  # the runs overlapped: the second started before the first ended
    assert first[1] <= second[0]  # yet the two writers did not: the pool let one in at a time
    assert stg_extract_transactions.op.pool == "warehouse"

    parallel = query(store, "SELECT * FROM stg_extract_transactions ORDER BY ALL")
    stage_extracts(store, patterns_of(store), dt.date(2025, 1, 1), dt.date(2025, 3, 1))  # the same, in one go
    assert query(store, "SELECT * FROM stg_extract_transactions ORDER BY ALL") == parallel
    offered = query(store, "SELECT count(*) + count(DISTINCT service_id) FROM "
                           "(SELECT service_id, unnest(channels_offered) FROM stg_service_catalogue)")[0][0]
    assert len(parallel) == 2 * offered  # both months: every offered channel and 'all' of every service
