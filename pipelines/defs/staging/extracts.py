"""Transaction-level extracts: one row per transaction, aggregated by DuckDB straight from the archived files.

An agency registered with the mapping `extract` (config/mappings/extract.yaml) drops any number of Parquet or CSV
files a month as data/landing/<agency>/<YYYY-MM>/extract-*. raw_agency_returns archives them unchanged like any
return. Here, per agency and month, in SQL (transforms/sql/extract_*.sql): repeated transaction ids are found
(extract_duplicates), the accepted rows are aggregated in one pass that also tests every row rule (extract_rows,
extract_aggregates) into stg_extract_transactions: starts, completions and time to complete per service x month x
channel, which feed the same facts as monthly returns. Only when the counts show rejected rows are they listed
(extract_violations) into the quarantine with file, row and rule. Nothing is loaded into Python: DuckDB streams the
files within MEMORY_LIMIT and spills to disk beyond it. A run replaces its own months in one transaction, so
re-running is safe; for every file, rows read = rows accepted + rows quarantined.
"""


import datetime as dt
import fnmatch
import os
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.defs.staging.extract_engines import SparkStage
from pipelines.lib.archive import Archive
from pipelines.lib.config import Config
from pipelines.lib.partitions import agencies_of_run, monthly
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from pipelines.lib.suites import built_then_checked, table_step
from pipelines.lib import quarantine
from pipelines.lib.warehouse import delete_run_slice, memory_limit, preview, submissions_in_force
from transforms import sql
from transforms.catalogue import CATALOGUE, upstream

RETURN_TYPE = "transaction_extract"
COLUMNS = ("transaction_id", "service_id", "channel", "started_at", "completed_at", "outcome")
# DuckDB's own budget for the aggregation and the gates (it spills to disk beyond it); Python, Dagster and the
# Great Expectations suites take a few hundred MB more, and the whole step stays under 2 GB at any size.
MEMORY_LIMIT = "1GB"
# Quantiles hold every duration of a group (4 bytes) until the group is done, and each row is in two groups (its
# channel, its service). Above this many rows in one agency and month the two are computed in two passes over the
# files, halving that memory (about 0.3 GB per 100 million rows and pass).
ONE_PASS_ROWS = 40_000_000


class UnreadableExtract(ValueError):
    """An extract file that cannot be read as a table with the extract's columns."""


def extract_patterns(config: Config) -> dict[str, str]:
    """Agency id -> the file pattern of its transaction extracts, for the agencies whose transactions are extracts."""
    layouts = {a.id: config.layout(a, "transactions") for a in config.agencies}
    return {agency_id: layout.extract for agency_id, layout in layouts.items() if layout and layout.extract}


def extract_submissions(con, patterns: dict[str, str], start: dt.date,
                        end: dt.date) -> dict[tuple[str, dt.date], list[tuple[str, str, str]]]:
    """The current extract files of each (agency, month) in [start, end): (source_path, sha256, archive_path).
    `patterns`: agency id -> the file pattern of its extracts (extract_patterns)."""
    found = defaultdict(list)
    for source_path, sha, agency_id, month, archive_path in submissions_in_force(con, start, end):
        pattern = patterns.get(agency_id)
        if pattern and fnmatch.fnmatch(Path(source_path).name, pattern):
            found[(agency_id, month)].append((source_path, sha, archive_path))
    return {key: sorted(files) for key, files in found.items()}  # by name: which repeat is "first" never varies


def as_parquet(path: Path, source_path: str, work: Path) -> Path:
    """The file as Parquet with every extract column: a CSV is copied (as text, in its own row order, so row numbers
    stay the file's own), a Parquet file is used as it is. Raises UnreadableExtract with the reason. Its own
    DuckDB, so a file that fails leaves the warehouse's transaction untouched."""
    suffix = Path(source_path).suffix.lower()
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "preserve_insertion_order": True})
    try:
        if suffix == ".csv":
            target = work / f"{path.stem}.parquet"
            con.read_csv(str(path), header=True, all_varchar=True).write_parquet(str(target))
            path = target
        elif suffix != ".parquet":
            raise UnreadableExtract(f"unsupported file type {suffix or '(none)'!r}: extracts are .parquet or .csv")
        columns = {row[0] for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()}
    except duckdb.Error as error:
        reason = str(error).splitlines()[0].replace(str(path), source_path)  # the submitted name, not our copy's
        raise UnreadableExtract(f"{type(error).__name__}: {reason}") from error
    finally:
        con.close()
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise UnreadableExtract(f"missing column(s): {', '.join(missing)} (an extract has {', '.join(COLUMNS)})")
    return path


def _ids_of_file(path: str) -> tuple:
    """(ids, ascending_steps, first_id, last_id) of one file (extract_ids_ascending.sql): its own DuckDB on one
    thread, reading the file in its row order."""
    with duckdb.connect(config={"threads": 1, "preserve_insertion_order": True, "memory_limit": "256MB"}) as con:
        return con.execute(sql("extract_ids_ascending"), {"file": path}).fetchone()


def ids_proven_unique(paths: list[str]) -> bool:
    """True when no transaction id can repeat among these files, proven without a sort: in every file the ids
    ascend row by row, and the files' ranges of ids do not overlap. False proves nothing (the duplicate check
    then runs). The files are read in parallel, one thread each (the streaming window is single-threaded)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        files = [file for file in pool.map(_ids_of_file, paths) if file[0]]
    ranges = sorted((first, last) for _, _, first, last in files)
    return (all(steps == ids - 1 for ids, steps, _, _ in files)
            and all(before[1] < after[0] for before, after in zip(ranges, ranges[1:])))


def stage_agency_month(con, archive: Archive, agency_id: str, month: dt.date, files: list[tuple[str, str, str]],
                       work: Path, tally: Counter) -> list[dict]:
    """Gate and aggregate one agency's extracts of one month inside the caller's transaction; the accounting rows."""
    readable, accounting = [], []
    for source_path, sha, archive_path in files:
        try:
            readable.append((source_path, sha, as_parquet(archive.local(archive_path), source_path, work)))
        except UnreadableExtract as error:
            quarantine.write(con, [{"return_type": RETURN_TYPE, "agency_id": agency_id, "month": month,
                                    "source_file": source_path, "sha256": sha, "rule": "unreadable_file",
                                    "offending_value": str(error)[:500],
                                    "message": f"the file could not be read: {str(error)[:500]}"}])
            accounting.append({"source_file": source_path, "sha256": sha, "file_status": "unreadable",
                               "rows_read": 0, "rows_quarantined": 0})
    if not readable:  # nothing readable: the month's transactions are not provided
        return accounting
    params = {"files": [str(path) for _, _, path in readable], "agency": agency_id, "month": month}
    rows_read = [con.execute("SELECT num_rows FROM parquet_file_metadata(?)", [str(path)]).fetchall()[0][0]
                 for _, _, path in readable]

    started = time.monotonic()
    ascending = ids_proven_unique(params["files"])
    if ascending:  # no id can repeat: nothing to sort
        con.execute("CREATE OR REPLACE TEMP TABLE extract_duplicates (file UBIGINT, row_number BIGINT, rule VARCHAR)")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE extract_duplicates AS {sql('extract_duplicates')}", params)
    tally["gate_seconds"] += time.monotonic() - started
    tally["ids_ascending" if ascending else "ids_sorted"] += 1
    started = time.monotonic()  # the row rules are evaluated in this same pass (extract_rows.sql)
    for levels in ([[True, False]] if sum(rows_read) <= ONE_PASS_ROWS else [[True], [False]]):
        con.execute(f"INSERT INTO stg_extract_transactions BY NAME {sql('extract_aggregates')}",
                    {**params, "levels": levels})
    tally["aggregation_seconds"] += time.monotonic() - started

    accepted = con.execute("SELECT sum(transactions_started) FROM stg_extract_transactions WHERE agency_id = ? "
                           "AND month = ? AND channel = 'all'", [agency_id, month]).fetchall()[0][0] or 0
    rejected = {}
    if accepted < sum(rows_read):  # only then is there anything to list (the usual case costs nothing more)
        started = time.monotonic()
        con.execute("CREATE OR REPLACE TEMP TABLE extract_files (file INTEGER, source_file VARCHAR, sha256 VARCHAR)")
        con.executemany("INSERT INTO extract_files VALUES (?, ?, ?)",
                        [[index, source_path, sha] for index, (source_path, sha, _) in enumerate(readable)])
        con.execute(f"CREATE OR REPLACE TEMP TABLE extract_rejected AS {sql('extract_violations')}", params)
        quarantine.write(con, con.sql(
            "SELECT $return_type AS return_type, $agency AS agency_id, $month AS month, files.source_file, "
            "files.sha256, rejected.row_number, rejected.rule, rejected.column_name, rejected.offending_value, "
            "rejected.message FROM extract_rejected AS rejected JOIN extract_files AS files USING (file)",
            params={"return_type": RETURN_TYPE, "agency": agency_id, "month": month}))
        rejected = dict(con.execute("SELECT file, count(*) FROM extract_rejected GROUP BY file").fetchall())
        tally["gate_seconds"] += time.monotonic() - started
    if accepted + sum(rejected.values()) != sum(rows_read):
        raise RuntimeError(f"{agency_id} {month}: {sum(rows_read)} rows read but {accepted} accepted and "
                           f"{sum(rejected.values())} quarantined")
    for index, (source_path, sha, _) in enumerate(readable):
        accounting.append({"source_file": source_path, "sha256": sha, "file_status": "read",
                           "rows_read": rows_read[index], "rows_quarantined": rejected.get(index, 0)})
    return accounting


def stage_extracts(store: DataStore, patterns: dict[str, str], start: dt.date, end: dt.date,
                   agencies: list[str] | None = None, context: dg.AssetExecutionContext | None = None,
                   config: Config | None = None) -> dict:
    """Replace the months [start, end) of stg_extract_transactions, and of the extracts' quarantine and accounting,
    for every agency or only `agencies` (a run the submission sensor limited to some agencies). `patterns`: agency
    id -> the file pattern of its extracts (extract_patterns). Agencies that `config` puts on `engine: spark` were
    staged by Spark (stg_extract_spark_outputs, extract_engines.py; `context` is the asset's), and their outputs are
    loaded here in the same transaction."""
    tally, accounting = Counter(), []  # seconds per phase; agency-months per kind of duplicate check
    archive = Archive.of(store, config.registry.spark.storage if config is not None else None)
    store.root.mkdir(parents=True, exist_ok=True)
    with (store.connect() as con, memory_limit(con, MEMORY_LIMIT),
          tempfile.TemporaryDirectory(dir=store.root, prefix=".extracts-") as work):
        con.execute(sql("extract_rows"))  # the macro the SQL below reads rows with
        submissions = {(agency_id, month): files for (agency_id, month), files
                       in extract_submissions(con, patterns, start, end).items()
                       if agencies is None or agency_id in agencies}
        spark = SparkStage.computed(context, store, config, submissions, start, end, agencies)
        submissions = {key: files for key, files in submissions.items() if key not in spark.jobs}
        con.execute("BEGIN")
        delete_run_slice(con, "stg_extract_transactions", start, end, agencies)
        for table in ("quarantine", "submission_accounting"):
            delete_run_slice(con, table, start, end, agencies, return_type=RETURN_TYPE)
        for (agency_id, month), files in sorted(submissions.items()):
            rows = [{**row, "return_type": RETURN_TYPE, "agency_id": agency_id, "month": month,
                     "rows_accepted": row["rows_read"] - row["rows_quarantined"]}
                    for row in stage_agency_month(con, archive, agency_id, month, files, Path(work), tally)]
            quarantine.write(con, accounting=rows)
            accounting += rows
        accounting += spark.load(con)
        con.execute("COMMIT")
        rules = dict(con.execute("SELECT rule, count(*) FROM quarantine WHERE return_type = ? AND month >= ? "
                                 "AND month < ? GROUP BY rule ORDER BY rule", [RETURN_TYPE, start, end]).fetchall())
        shown = preview(con, "SELECT * FROM stg_extract_transactions WHERE month >= ? AND month < ? "
                             "ORDER BY transactions_started DESC", [start, end])
        [(written,)] = con.execute("SELECT count(*) FROM stg_extract_transactions WHERE month >= ? AND month < ?",
                                   [start, end]).fetchall()
    return {
        "dagster/row_count": written,
        "files": len(accounting),
        "agency_months": len(submissions) + len(spark.jobs),
        "rows_read": sum(r["rows_read"] for r in accounting),
        "rows_accepted": sum(r["rows_accepted"] for r in accounting),
        "rows_quarantined": sum(r["rows_quarantined"] for r in accounting),
        "files_unreadable": sum(r["file_status"] == "unreadable" for r in accounting),
        "quarantine_rules": dg.MetadataValue.json(rules),
        "gate_seconds": round(tally["gate_seconds"], 3),
        "agency_months_ids_ascending": tally["ids_ascending"],
        "agency_months_ids_sorted": tally["ids_sorted"],
        "aggregation_seconds": round(tally["aggregation_seconds"], 3),
        "preview": dg.MetadataValue.md(shown),
    }


def _spark_submissions(con, config: Config, start: dt.date, end: dt.date, agencies: list[str] | None) -> dict:
    return {key: files for key, files in extract_submissions(con, extract_patterns(config), start, end).items()
            if agencies is None or key[0] in agencies}


@dg.asset(group_name="staging", partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run(),
          deps=upstream(CATALOGUE["stg_extract_transactions"]), kinds={"duckdb", "parquet"}, pool=WAREHOUSE_POOL,
          description="Engine spark, first step (short, in the warehouse pool): the run's extract inputs as Parquet "
                      "under spark.storage and the job's spec, read from the warehouse's archive and catalogue.")
def stg_extract_spark_inputs(context: dg.AssetExecutionContext, store: DataStore,
                             settings: Settings) -> dg.MaterializeResult:
    window, config = context.partition_time_window, settings.config
    if not any(agency.engine == "spark" for agency in config.agencies):
        return dg.MaterializeResult()  # nothing on Spark: the warehouse is not opened
    store.root.mkdir(parents=True, exist_ok=True)
    start, end, agencies = window.start.date(), window.end.date(), agencies_of_run(context)
    with store.connect() as con, tempfile.TemporaryDirectory(dir=store.root, prefix=".extracts-") as work:
        submissions = _spark_submissions(con, config, start, end, agencies)
        metadata = SparkStage.prepare(context, con, store, config, submissions, start, end, agencies, as_parquet,
                                      Path(work))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name="staging", partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run(),
          deps=[stg_extract_spark_inputs], kinds={"spark", "parquet"},
          description="Engine spark, second step (long, outside the warehouse pool: other runs' warehouse steps go "
                      "on meanwhile): the Spark job through Dagster Pipes, its outputs under spark.storage.")
def stg_extract_spark_outputs(context: dg.AssetExecutionContext, store: DataStore,
                              settings: Settings) -> dg.MaterializeResult:
    return SparkStage.compute(context, store, settings.config)


@dg.multi_asset(**table_step(CATALOGUE["stg_extract_transactions"], kinds={"duckdb", "parquet"},
                             deps=[*upstream(CATALOGUE["stg_extract_transactions"]), stg_extract_spark_outputs]),
                partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run())
def stg_extract_transactions(context: dg.AssetExecutionContext, store: DataStore, settings: Settings):
    def build() -> dict:
        window = context.partition_time_window
        return stage_extracts(store, extract_patterns(settings.config), window.start.date(), window.end.date(),
                              agencies_of_run(context), context, settings.config)
    yield from built_then_checked(context, store, CATALOGUE["stg_extract_transactions"], build)
