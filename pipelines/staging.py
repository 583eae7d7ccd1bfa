"""Staged layer: typed canonical tables from the archived submissions; rejected rows go to quarantine.

For every file: rows read = rows accepted + rows quarantined (table `submission_accounting`). A file that
cannot be parsed at all is quarantined whole with the parser's reason, and the rest of the run goes on.
A run replaces exactly its own months (or its own reference table) in one transaction, so re-running is safe.
"""


import datetime as dt
from collections import defaultdict
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.ingestion import current_reference, current_submissions
from pipelines.readers import ParseError, read_table
from pipelines.partitions import agencies_of_run, monthly
from pipelines.registry import load_registry
from pipelines.resources import WAREHOUSE_POOL, DataStore
from transforms.reference import validate_benefits, validate_catalogue
from transforms.staging import COLUMNS, FILE, ROW, LayoutError, normalise, validate

ACCOUNTING_SCHEMA = {"return_type": pl.String, "agency_id": pl.String, "month": pl.Date, "source_file": pl.String,
                     "sha256": pl.String, "file_status": pl.String, "rows_read": pl.Int64, "rows_accepted": pl.Int64,
                     "rows_quarantined": pl.Int64}


QUARANTINE_COLUMNS = ["source_file", "row_number", "rule", "column_name", "offending_value", "message"]


def _file_result(frame: pl.DataFrame | None, failed: pl.DataFrame, source_file: str) -> tuple[int, int, int]:
    """(rows read, accepted, quarantined) of one file; an unreadable file has no rows (it is quarantined whole)."""
    if frame is None:
        return 0, 0, 0
    read = frame.get_column(ROW).n_unique()
    quarantined = failed.filter(pl.col("source_file") == source_file).height
    return read, read - quarantined, quarantined


def _whole_file(source_file: str, reason: str) -> pl.DataFrame:
    return pl.DataFrame([{"source_file": source_file, "row_number": None, "rule": "unreadable_file",
                          "column_name": None, "offending_value": reason[:500],
                          "message": f"the file could not be read: {reason[:500]}"}],
                        schema={c: (pl.Int64 if c == "row_number" else pl.String) for c in QUARANTINE_COLUMNS})


def _write(con, table: str, return_type: str, accepted: pl.DataFrame | None, quarantined: pl.DataFrame,
           accounting: pl.DataFrame, start: dt.date | None, end: dt.date | None,
           agencies: list[str] | None = None) -> None:
    """Replace this run's slice of the staged table, quarantine and accounting in one transaction: its months,
    and only its agencies when given. `accepted` None keeps the staged table as it was (a reference file that
    could not be read at all)."""
    con.execute("BEGIN")
    if accepted is None:
        con.execute("DELETE FROM quarantine WHERE return_type = ?", [return_type])
        con.execute("DELETE FROM submission_accounting WHERE return_type = ?", [return_type])
    elif start is None:
        con.execute(f"DELETE FROM {table}")
        con.execute("DELETE FROM quarantine WHERE return_type = ?", [return_type])
        con.execute("DELETE FROM submission_accounting WHERE return_type = ?", [return_type])
    else:
        mine = "month >= ? AND month < ? AND (? IS NULL OR list_contains(?, agency_id))"
        window = [start, end, agencies, agencies]
        con.execute(f"DELETE FROM {table} WHERE {mine}", window)
        con.execute(f"DELETE FROM quarantine WHERE return_type = ? AND {mine}", [return_type, *window])
        con.execute(f"DELETE FROM submission_accounting WHERE return_type = ? AND {mine}", [return_type, *window])
    con.register("quarantine_frame", quarantined)
    con.register("accounting_frame", accounting)
    if accepted is not None:
        con.register("accepted_frame", accepted)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM accepted_frame")
    con.execute("INSERT INTO quarantine BY NAME SELECT * FROM quarantine_frame")
    con.execute("INSERT INTO submission_accounting BY NAME SELECT * FROM accounting_frame")
    con.execute("COMMIT")


def _summary(accounting: pl.DataFrame, quarantined: pl.DataFrame, accepted: pl.DataFrame) -> dict:
    rules = quarantined.group_by("rule").len().sort("rule")
    return {
        "files": accounting.height,
        "rows_read": int(accounting["rows_read"].sum()),
        "rows_accepted": int(accounting["rows_accepted"].sum()),
        "rows_quarantined": int(accounting["rows_quarantined"].sum()),
        "files_unreadable": int((accounting["file_status"] == "unreadable").sum()),
        "quarantine_rules": dg.MetadataValue.json(dict(zip(rules["rule"], rules["len"]))),
        "preview": dg.MetadataValue.md(accepted.head(5).to_pandas().to_markdown(index=False)
                                       if accepted.height else "(no rows)"),
    }


def stage_returns(store: DataStore, return_type: str, start: dt.date, end: dt.date,
                  agencies: list[str] | None = None) -> dict:
    """Read, normalise and validate every current return of one type for months in [start, end), of every
    agency or of the `agencies` given (the rest of those months is left as it was)."""
    registry = load_registry()
    with store.connect() as con:
        catalogue = con.sql("SELECT service_id, agency_id, channels_offered, live_from "
                            "FROM stg_service_catalogue").pl()
        submissions = current_submissions(con, start, end)
        frames, failures, files = defaultdict(list), [], []
        for source_path, sha, agency_id, month, archive_path in submissions:
            agency = registry.agency(agency_id)
            if agency is None or (agencies is not None and agency_id not in agencies):
                continue
            layout = registry.layout(agency, return_type)
            if Path(source_path).name != layout["file"]:
                continue
            files.append((source_path, sha, agency_id, month))
            try:
                frame = read_table(store.archive / archive_path, layout, source_path).with_columns(
                    pl.lit(source_path).alias(FILE))
                normalised = normalise(frame, layout, return_type)
                frames[(agency_id, month)].append((source_path, frame, normalised))
            except (ParseError, LayoutError) as error:
                failures.append(_whole_file(source_path, str(error)))

        accepted_parts, accounting_rows = [], []
        read_counts = {}
        for (agency_id, month), parts in sorted(frames.items()):
            combined = pl.concat([normalised for _, _, normalised in parts], how="diagonal_relaxed")
            accepted, failed = validate(combined, return_type, agency_id, month.isoformat(), catalogue)
            accepted_parts.append(accepted.with_columns(pl.lit(agency_id).alias("agency_id")))
            failures.append(failed)
            for source_path, frame, _ in parts:
                read_counts[source_path] = frame  # rows as read, before a wide layout is made long
        quarantined = pl.concat(failures, how="diagonal_relaxed") if failures else pl.DataFrame(
            schema={c: (pl.Int64 if c == "row_number" else pl.String) for c in QUARANTINE_COLUMNS})
        for source_path, sha, agency_id, month in files:
            read, accepted_rows, rejected = _file_result(read_counts.get(source_path), quarantined, source_path)
            status = "read" if source_path in read_counts else "unreadable"
            accounting_rows.append({"return_type": return_type, "agency_id": agency_id, "month": month,
                                    "source_file": source_path, "sha256": sha, "file_status": status,
                                    "rows_read": read, "rows_accepted": accepted_rows,
                                    "rows_quarantined": rejected})
        accepted = (pl.concat(accepted_parts) if accepted_parts else pl.DataFrame()).rename(
            {FILE: "source_file", ROW: "source_row"}, strict=False)
        if not accepted.height:
            accepted = pl.DataFrame(schema={c: pl.String for c in [*COLUMNS[return_type], "agency_id"]})
        quarantined = quarantined.with_columns(pl.lit(return_type).alias("return_type")).join(
            pl.DataFrame(files, schema={"source_file": pl.String, "sha256": pl.String, "agency_id": pl.String,
                                        "month": pl.Date}, orient="row"),
            on="source_file", how="left")
        accounting = pl.DataFrame(accounting_rows, schema=ACCOUNTING_SCHEMA)
        _write(con, f"stg_{return_type}", return_type, accepted, quarantined, accounting, start, end, agencies)
    return _summary(accounting, quarantined, accepted)


def _returns_asset(return_type: str, description: str):
    @dg.asset(pool=WAREHOUSE_POOL, name=f"stg_{return_type}", group_name="staging", partitions_def=monthly,
              backfill_policy=dg.BackfillPolicy.single_run(),
              deps=["raw_agency_returns", "raw_api_returns", "stg_service_catalogue"],
              description=description, kinds={"duckdb", "polars"})
    def staged(context: dg.AssetExecutionContext, store: DataStore) -> dg.MaterializeResult:
        window = context.partition_time_window
        return dg.MaterializeResult(metadata=stage_returns(store, return_type, window.start.date(),
                                                           window.end.date(), agencies_of_run(context)))
    return staged


stg_transactions = _returns_asset(
    "transactions", "Transactions started and completed per service x month x channel (NULL: not provided).")
stg_costs = _returns_asset(
    "costs", "Costs in GBP per service x month x cost category x channel, or 'shared' when no channel carries it.")
stg_satisfaction = _returns_asset(
    "satisfaction", "User satisfaction survey responses per rating (1-5) per service x month x channel.")


def stage_whole_files(store: DataStore, name: str, files: list[tuple], validator, table: str) -> dict:
    """Stage files that are each read whole (not by month): the catalogue, the benefits register, records.
    `files`: (source_path, sha256, agency_id, archive_path); `validator(frame, con, agency_id)` returns
    (accepted, quarantined). With no file at all the staged table is left as it was."""
    with store.connect() as con:
        accepted_parts, failures, accounting = [], [], []
        for source_path, sha, agency_id, archive_path in files:
            frame = None
            try:
                frame = read_table(store.archive / archive_path, {}, source_path).with_columns(
                    pl.lit(source_path).alias(FILE))
                accepted, failed = validator(frame, con, agency_id)
                accepted_parts.append(accepted)
            except ParseError as error:
                failed = _whole_file(source_path, str(error))
            failures.append(failed.with_columns(pl.lit(sha).alias("sha256"),
                                                pl.lit(agency_id, pl.String).alias("agency_id")))
            read, good, rejected = _file_result(frame, failed, source_path)
            accounting.append({"return_type": name, "agency_id": agency_id, "month": None, "source_file": source_path,
                               "sha256": sha, "file_status": "read" if frame is not None else "unreadable",
                               "rows_read": read, "rows_accepted": good, "rows_quarantined": rejected})
        quarantined = (pl.concat(failures, how="diagonal_relaxed") if failures else _whole_file("", "").clear()
                       ).with_columns(return_type=pl.lit(name), month=pl.lit(None, pl.Date))
        accounting = pl.DataFrame(accounting, schema=ACCOUNTING_SCHEMA)
        accepted = (pl.concat(accepted_parts, how="diagonal_relaxed").rename(
            {FILE: "source_file", ROW: "source_row"}, strict=False) if accepted_parts else None)
        if files:
            _write(con, table, name, accepted, quarantined, accounting, None, None)
    return _summary(accounting, quarantined, accepted if accepted is not None else pl.DataFrame())


def stage_reference(store: DataStore, name: str, validator, table: str) -> dict:
    """Stage a central file (catalogue or benefits register) as a whole."""
    with store.connect() as con:
        current = current_reference(con, name)
    files = [] if current is None else [(current[0], current[1], None, current[4])]
    return stage_whole_files(store, name, files, lambda frame, con, _: validator(frame, con), table)


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", deps=["raw_reference_files"], kinds={"duckdb", "polars"})
def stg_service_catalogue(store: DataStore) -> dg.MaterializeResult:
    """The central service catalogue: each service, its agency, department and the channels it offers."""
    agency_ids = [a.id for a in load_registry().agencies]
    return dg.MaterializeResult(metadata=stage_reference(
        store, "service_catalogue", lambda frame, con: validate_catalogue(frame, agency_ids), "stg_service_catalogue"))


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", deps=["raw_reference_files", "stg_service_catalogue"], kinds={"duckdb", "polars"})
def stg_benefits_register(store: DataStore) -> dg.MaterializeResult:
    """The benefits register (HM Treasury Green Book fields): baseline, target, owner per benefit."""
    def validator(frame, con):
        services = [r[0] for r in con.execute("SELECT service_id FROM stg_service_catalogue").fetchall()]
        return validate_benefits(frame, services)
    return dg.MaterializeResult(metadata=stage_reference(store, "benefits_register", validator,
                                                         "stg_benefits_register"))
