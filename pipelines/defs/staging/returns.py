"""Staged monthly returns: typed canonical rows of transactions, costs and satisfaction from the archived
submissions of a run's months; rejected rows go to quarantine. A run replaces exactly its own months (and only its
agencies' rows when it is limited to some), in one transaction, so re-running is safe."""

import datetime as dt
import fnmatch
from collections import Counter, defaultdict
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.defs.staging.accounting import (ACCOUNTING_SCHEMA, QUARANTINE_ROW_SCHEMA, file_result, listed,
                                               rule_counts, summary, write_slice)
from pipelines.defs.staging.unrecognised import (not_recognised, outside_agency_folders, outside_month_folders,
                                                 write_not_recognised)
from pipelines.defs.staging.csv_batches import read_plain_csvs
from pipelines.defs.staging.passes import file_failure, normalised_files, validated
from pipelines.defs.staging.readers import read_table
from pipelines.lib.archive import Archive
from pipelines.lib.config import Config
from pipelines.lib.partitions import agencies_of_run, monthly
from pipelines.lib.resources import DataStore, Settings
from pipelines.lib.suites import built_then_checked, table_step
from pipelines.lib.warehouse import submissions_in_force
from transforms.catalogue import CATALOGUE, upstream
from transforms.domain import RETURN_TYPES
from transforms.layouts import FACTS_FROM_RETURN, REPORTED_COLUMNS, headers_of_odd_length, matches_file
from transforms.staging import COLUMNS, COUNTS, FILE, ROW


def recognised(config: Config, agency, name: str) -> bool:
    """Whether any return (or the catalogue) of the agency's mapping reads a file of this name."""
    returns = config.mapping(agency).returns
    names = [getattr(returns, t).file for t in RETURN_TYPES] + [returns.catalogue.file if returns.catalogue else None]
    extract = returns.transactions.extract
    return any(n and matches_file(n, name) for n in names) or bool(extract and fnmatch.fnmatchcase(name, extract))


def markers_only(accepted: pl.DataFrame, return_type: str) -> dict[str, int]:
    """Per file, the accepted source rows whose every figure is a marker (not provided): a service that sent only
    'ND' is staged, as not provided, and counted here."""
    figures = [c for c in accepted.columns if c in (*COUNTS[return_type], "cost_gbp", *REPORTED_COLUMNS)]
    if not accepted.height or not figures:
        return {}
    rows = (accepted.group_by("source_file", "source_row")
            .agg(pl.all_horizontal(*(pl.col(c).is_null().all() for c in figures)).alias("empty"))
            .filter("empty").group_by("source_file").len())
    return dict(rows.iter_rows())


def stage_returns(store: DataStore, config: Config, return_type: str, start: dt.date, end: dt.date,
                  agencies: list[str] | None = None) -> dict:
    """Read, normalise and validate every current return of one type for months in [start, end), of every
    agency or of the `agencies` given (the rest of those months is left as it was). The returns are staged in
    parts of whole agency-months of about files.max_file_bytes, each part let go before the next, so that memory
    holds one large file's rows at a time, not every file's (two 64 MiB files of tiny rows peaked at 9.7 GB)."""
    with store.connect() as con:
        catalogue = con.sql("SELECT service_id, agency_id, channels_offered, live_from "
                            "FROM stg_service_catalogue").pl()
        facts_from_return = [a.id for a in config.agencies if config.facts_from_return(a.id)]
        catalogue = catalogue.with_columns(pl.col("agency_id").is_in(facts_from_return).alias(FACTS_FROM_RETURN))
        submissions = submissions_in_force(con, start, end)
        archive = Archive.of(store, config.registry.spark.storage)
        files, unrecognised = [], []
        for source_path, sha, agency_id, month, archive_path in submissions:
            agency = config.agency(agency_id)
            if agency is None or (agencies is not None and agency_id not in agencies):
                continue
            layout = config.layout(agency, return_type)
            if layout is None:
                continue
            name = Path(source_path).name
            if not recognised(config, agency, name):
                unrecognised.append(not_recognised(source_path, sha, agency_id, month, config.mapping(agency)))
            if layout.file is None or not matches_file(layout.file, name):
                continue
            files.append(((source_path, sha, agency_id, month),
                          (source_path, archive.local(archive_path), layout, agency.mapping)))
        accepted, quarantined, accounting_rows, rules, warnings = [], [], [], Counter(), {}
        for part in agency_month_parts(files, config.limits.files.max_file_bytes):
            good, bad, rows, counts, said = stage_part(config, return_type, catalogue, part)
            warnings.update(dict.fromkeys(said))
            accepted += [good] if good is not None else []
            quarantined.append(bad)
            accounting_rows += rows
            rules.update(counts)
        accepted = pl.concat(accepted, how="diagonal_relaxed") if accepted else pl.DataFrame()
        markers = markers_only(accepted, return_type)
        for row in accounting_rows:
            row["rows_markers_only"] = markers.get(row["source_file"], 0)
        if not accepted.height:
            accepted = pl.DataFrame(schema={c: pl.String for c in [*COLUMNS[return_type], "agency_id"]})
        quarantined = (pl.concat(quarantined, how="diagonal_relaxed") if quarantined else pl.DataFrame(
            schema=QUARANTINE_ROW_SCHEMA)
                       ).with_columns(pl.lit(return_type).alias("return_type"))
        accounting = pl.DataFrame(accounting_rows, schema=ACCOUNTING_SCHEMA)
        write_slice(con, f"stg_{return_type}", return_type, accepted, quarantined, accounting, start, end, agencies)
        if return_type == "transactions":  # each file is accounted for once, with the first return type staged
            # files outside every agency's folder are no agency's: a run limited to some agencies leaves them be
            outside = outside_month_folders(store, config, agencies) + (
                outside_agency_folders(store, config) if agencies is None else [])
            write_not_recognised(con, unrecognised + outside, start, end, agencies)
    return {**summary(accounting, dict(sorted(rules.items())), accepted), "files_not_recognised": len(unrecognised),
            **({"warnings": dg.MetadataValue.json(list(warnings))} if warnings else {})}


def agency_month_parts(files: list[tuple[tuple, tuple]], budget: int) -> list[list[tuple[tuple, tuple]]]:
    """The files in parts of whole agency-months (validated together: a key repeated across files is one return's
    duplicate), agency-months in the order they first arrived, a part closed once its files pass `budget` bytes."""
    months = defaultdict(list)
    for file in files:
        months[file[0][2:4]].append(file)
    parts, size = [], budget
    for members in months.values():
        if size >= budget:
            parts.append([])
            size = 0
        parts[-1] += members
        size += sum(wanted[1].stat().st_size for _, wanted in members if wanted[1].is_file())
    return parts


def stage_part(config: Config, return_type: str, catalogue: pl.DataFrame, part: list[tuple[tuple, tuple]]):
    """(accepted rows or None, quarantine as listed, accounting rows, quarantine rows per rule, warnings about the
    layouts read: headers of odd length) of a part's files, in the order they arrived. `part`: ((source_path,
    sha256, agency_id, month), (source_path, the file's path, its layout, its mapping's name)) per file; it reads
    only those files (the preview stages one file so)."""
    files, wanted = [f for f, _ in part], [w for _, w in part]
    failures, batches = {}, defaultdict(list)  # (mapping, header) -> files as read, in the order they arrived
    plain = read_plain_csvs([w[:3] for w in wanted], config.limits.files)  # many files in one pass
    for source_path, path, layout, mapping in wanted:
        try:
            frame = plain.get(source_path)
            if frame is None:
                frame = read_table(path, layout, source_path, config.limits.files).with_columns(
                    pl.lit(source_path).alias(FILE))
        except Exception as error:  # noqa: BLE001 - one file that cannot be read never stops the others
            failures[source_path] = file_failure(source_path, error)
            continue
        batches[(mapping, tuple(frame.columns))].append((source_path, frame))

    months = defaultdict(list)  # (agency, month) -> [(source_path, normalised)]
    return_of = {source_path: (agency_id, month) for source_path, _, agency_id, month in files}
    warnings = []
    for (mapping, columns), batch in batches.items():
        layout = getattr(config.mappings[mapping].returns, return_type)
        warnings += [f"mapping {mapping}, {batch[0][0]}: {warning}" for warning in headers_of_odd_length(
            [layout.rename.get(c, c) for c in columns], layout.headers)]
        for source_path, normalised, failure in normalised_files(batch, layout, return_type):
            if failure is not None:
                failures[source_path] = failure
            else:
                months[return_of[source_path]].append((source_path, normalised))
    arrival = {source_path: i for i, (source_path, *_) in enumerate(files)}
    frames = {source_path: frame for batch in batches.values() for source_path, frame in batch}
    agency_months = []
    for (agency_id, month), parts in sorted(months.items()):
        agency = config.agency(agency_id)
        agency_months.append(((agency_id, month, f"{agency.first_month or config.registry.first_month}-01"),
                              config.layout(agency, return_type).history,
                              sorted(parts, key=lambda part: arrival[part[0]])))
    accepted, failed, done = validated(agency_months, return_type, catalogue, config.limits.values.max_count,
                                       float(config.limits.values.max_cost_gbp))
    read_counts = {source_path: frames[source_path] for source_path in done}  # rows as read, before unpivot
    rejected_parts = [failures[path] for path, *_ in files if path in failures] + (
        [failed] if failed is not None else [])  # files in arrival order, then the rows validation rejected
    quarantined = pl.concat(rejected_parts, how="diagonal_relaxed") if rejected_parts else pl.DataFrame(
        schema=QUARANTINE_ROW_SCHEMA)
    accounting_rows = []
    for source_path, sha, agency_id, month in files:
        read, accepted_rows, rejected = file_result(read_counts.get(source_path), quarantined, source_path)
        status = "read" if source_path in read_counts else "unreadable"
        accounting_rows.append({"return_type": return_type, "agency_id": agency_id, "month": month,
                                "source_file": source_path, "sha256": sha, "file_status": status,
                                "rows_read": read, "rows_accepted": accepted_rows, "rows_quarantined": rejected})
    listing = listed(quarantined, config.limits.files.max_quarantine_rows_per_rule).join(
        pl.DataFrame(files, schema={"source_file": pl.String, "sha256": pl.String, "agency_id": pl.String,
                                    "month": pl.Date}, orient="row"),
        on="source_file", how="left")
    if accepted is not None:
        accepted = accepted.rename({FILE: "source_file", ROW: "source_row"}, strict=False)
    return accepted, listing, accounting_rows, rule_counts(quarantined), warnings


def _returns_asset(return_type: str):
    table = CATALOGUE[f"stg_{return_type}"]

    @dg.multi_asset(**table_step(table, deps=upstream(table), kinds={"duckdb", "polars"}),
                    partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run())
    def staged(context: dg.AssetExecutionContext, store: DataStore, settings: Settings):
        def build() -> dict:
            window = context.partition_time_window
            return stage_returns(store, settings.config, return_type, window.start.date(), window.end.date(),
                                 agencies_of_run(context))
        yield from built_then_checked(context, store, table, build)
    return staged


stg_transactions = _returns_asset("transactions")
stg_costs = _returns_asset("costs")
stg_satisfaction = _returns_asset("satisfaction")
