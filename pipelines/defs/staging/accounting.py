"""What staging shares: the row accounting of every file, the whole-file quarantine row, and the replacement of a
run's slice of a staged table, its quarantine and its accounting in one transaction.

For every file: rows read = rows accepted + rows quarantined (table `submission_accounting`). A file that cannot be
parsed at all is quarantined whole with the parser's reason, and the rest of the run goes on. The quarantine lists
at most `files.max_quarantine_rows_per_rule` rows of a file per rule, and one more that says how many there are
beyond them, so a file of a million bad rows costs a thousand rows of quarantine, not a million (`listed`).
"""

import datetime as dt

import dagster as dg
import polars as pl

from pipelines.defs.staging.readers import FileLayout, ParseError, read_table
from pipelines.lib import quarantine
from pipelines.lib.archive import Archive
from pipelines.lib.config.limits import FileLimits
from pipelines.lib.resources import DataStore
from pipelines.lib.warehouse import delete_run_slice
from transforms.mappings import AS_SENT
from transforms.staging import FILE, ROW, LayoutError

ACCOUNTING_SCHEMA = quarantine.schema(quarantine.ACCOUNTING)
# A quarantined row as validation gives it: the quarantine's columns but those of its file (added per file).
QUARANTINE_ROW_SCHEMA = pl.Schema({name: kind for name, kind in quarantine.schema(quarantine.QUARANTINE).items()
                                   if name not in ("return_type", "agency_id", "month", "sha256")})


def file_result(frame: pl.DataFrame | None, failed: pl.DataFrame, source_file: str) -> tuple[int, int, int]:
    """(rows read, accepted, quarantined) of one file; an unreadable file has no rows (it is quarantined whole)."""
    if frame is None:
        return 0, 0, 0
    read = frame.get_column(ROW).n_unique()
    # a row of several periods may be quarantined for one of them: it counts once, as quarantined
    quarantined = failed.filter(pl.col("source_file") == source_file).get_column("row_number").n_unique()
    return read, read - quarantined, quarantined


def listed(quarantined: pl.DataFrame, per_rule: int) -> pl.DataFrame:
    """The quarantine as stored: the first `per_rule` rows of each file and rule, in the order given; where more
    broke the rule, the first row not listed stays, saying how many rows it stands for (`rows_represented`, and in
    its message)."""
    group = ("source_file", "rule")
    place, more = pl.int_range(pl.len()).over(group), pl.len().over(group) - per_rule
    summary = place == per_rule
    return quarantined.with_columns(
        pl.when(summary).then(pl.format(
            "{} more rows of this file broke this rule, this one and those after it; only the first {} are listed "
            "(files.max_quarantine_rows_per_rule), and submission_accounting counts them all", more,
            pl.lit(per_rule))).otherwise(pl.col("message")).alias("message"),
        pl.when(summary).then(more).otherwise(1).cast(pl.Int64).alias("rows_represented")).filter(place <= per_rule)


def rule_counts(quarantined: pl.DataFrame) -> dict[str, int]:
    """Quarantine rows per rule, before the quarantine is `listed`."""
    rules = quarantined.group_by("rule").len().sort("rule")
    return dict(zip(rules["rule"], rules["len"]))


def whole_file(source_file: str, reason: str, rule: str = "unreadable_file") -> pl.DataFrame:
    """The quarantine row of a file set aside whole: `rule` is unreadable_file or the limit it broke."""
    return pl.DataFrame([{"source_file": source_file, "row_number": None, "rule": rule,
                          "column_name": None, "offending_value": reason[:500],
                          "message": f"the file could not be read: {reason[:500]}"}],
                        schema=QUARANTINE_ROW_SCHEMA)


def write_slice(con, table: str, return_type: str, accepted: pl.DataFrame | None, quarantined: pl.DataFrame,
           accounting: pl.DataFrame, start: dt.date | None, end: dt.date | None,
           agencies: list[str] | None = None) -> None:
    """Replace this run's slice of the staged table, quarantine and accounting in one transaction: its months,
    and only its agencies when given. `accepted` None keeps the staged table as it was (a reference file that
    could not be read at all)."""
    con.execute("BEGIN")
    if start is None:
        if accepted is not None:
            con.execute(f"DELETE FROM {table}")
        con.execute("DELETE FROM quarantine WHERE return_type = ?", [return_type])
        con.execute("DELETE FROM submission_accounting WHERE return_type = ?", [return_type])
    else:
        delete_run_slice(con, table, start, end, agencies)
        for side in ("quarantine", "submission_accounting"):
            delete_run_slice(con, side, start, end, agencies, return_type=return_type)
    if accepted is not None:
        con.register("accepted_frame", accepted)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM accepted_frame")
    quarantine.write(con, quarantined, accounting)
    con.execute("COMMIT")


def summary(accounting: pl.DataFrame, rules: dict[str, int], accepted: pl.DataFrame | None) -> dict:
    """The step's metadata: rows of the staged table written (none: the table was left as it was), the files' row
    accounting added up, and the rules rows broke."""
    written = {} if accepted is None else {"dagster/row_count": accepted.height}
    accepted = pl.DataFrame() if accepted is None else accepted
    return {
        **written,
        "files": accounting.height,
        "rows_read": int(accounting["rows_read"].sum()),
        "rows_accepted": int(accounting["rows_accepted"].sum()),
        "rows_quarantined": int(accounting["rows_quarantined"].sum()),
        "files_unreadable": int((accounting["file_status"] == "unreadable").sum()),
        "quarantine_rules": dg.MetadataValue.json(rules),
        "preview": dg.MetadataValue.md(accepted.head(5).to_pandas().to_markdown(index=False)
                                       if accepted.height else "(no rows)"),
    }


def stage_whole_files(store: DataStore, name: str, files: list[tuple], validator, table: str,
                      limits: FileLimits | None = None, layouts: dict[str, FileLayout] | None = None,
                      storage: str | None = None) -> dict:
    """Stage files that are each read whole (not by month): the catalogue, the benefits register, records.
    `files`: (source_path, sha256, agency_id, archive_path); `validator(frame, con, agency_id)` returns
    (accepted, quarantined); `layouts`: agency -> the layout its files are read by (else as sent); `storage`: the
    registry's spark.storage (the archive's root when set). With no file at all the staged table is left as it
    was."""
    archive = Archive.of(store, storage)
    with store.connect() as con:
        accepted_parts, failures, accounting = [], [], []
        for source_path, sha, agency_id, archive_path in files:
            frame = None
            try:
                frame = read_table(archive.local(archive_path), (layouts or {}).get(agency_id, AS_SENT), source_path,
                                   limits).with_columns(pl.lit(source_path).alias(FILE))
                accepted, failed = validator(frame, con, agency_id)
                accepted_parts.append(accepted)
            except (ParseError, LayoutError) as error:
                frame, failed = None, whole_file(source_path, str(error), getattr(error, "rule", "unreadable_file"))
            except Exception as error:  # noqa: BLE001 - a file that breaks its validator never fails the step
                frame, failed = None, whole_file(source_path, f"{type(error).__name__}: {str(error)[:300]}")
            failures.append(failed.with_columns(pl.lit(sha).alias("sha256"),
                                                pl.lit(agency_id, pl.String).alias("agency_id")))
            read, good, rejected = file_result(frame, failed, source_path)
            accounting.append({"return_type": name, "agency_id": agency_id, "month": None, "source_file": source_path,
                               "sha256": sha, "file_status": "read" if frame is not None else "unreadable",
                               "rows_read": read, "rows_accepted": good, "rows_quarantined": rejected})
        quarantined = (pl.concat(failures, how="diagonal_relaxed") if failures else whole_file("", "").clear()
                       ).with_columns(return_type=pl.lit(name), month=pl.lit(None, pl.Date))
        rules = rule_counts(quarantined)
        quarantined = listed(quarantined, (limits or FileLimits()).max_quarantine_rows_per_rule)
        accounting = pl.DataFrame(accounting, schema=ACCOUNTING_SCHEMA)
        accepted = (pl.concat(accepted_parts, how="diagonal_relaxed").rename(
            {FILE: "source_file", ROW: "source_row"}, strict=False) if accepted_parts else None)
        if files:
            write_slice(con, table, name, accepted, quarantined, accounting, None, None)
    return summary(accounting, rules, accepted)
