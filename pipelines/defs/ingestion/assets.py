"""Raw layer: every submission archived unchanged, by checksum, and listed in `raw_submissions`.

A file dropped at data/landing/<agency>/<YYYY-MM>/<name> is copied to data/archive/<sha[:2]>/<sha><suffix>
(<spark.storage>/archive/ when the registry sets a storage root: pipelines/lib/archive.py), read-only, the first
time its bytes are seen; an identical resubmission changes nothing, a changed file is a new version beside the old
one, and a version sent again after another (A, B, then A) is in force again. Nothing
here parses a file: staging reads the archived copies. Nothing outside data/landing/ is read: what is not taken
(a link out or in a loop, a folder named like a file, a file where a folder belongs) is quarantined with
return_type `landing` and its rule.
"""


import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.defs.ingestion.http import FetchError, HttpSource, display_url, fetch
from pipelines.lib import quarantine
from pipelines.lib.archive import Archive
from pipelines.lib.config import RETURN_TYPES, Agency
from pipelines.lib.config.limits import HttpLimits
from pipelines.lib.faults import pause_point
from pipelines.lib.files import CENTRAL_FILES, LandingProblem, inside, scan_landing, sha256_file, write_atomically
from pipelines.lib.partitions import agencies_of_run, monthly, months_in
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from pipelines.lib.warehouse import delete_run_slice, submissions_in_force


ARCHIVED_SCHEMA = {"source_path": pl.String, "sha256": pl.String, "size_bytes": pl.Int64,
                   "received_at": pl.Datetime("us", "UTC"), "archived_at": pl.Datetime("us", "UTC"),
                   "source": pl.String, "agency_id": pl.String, "month": pl.Date, "archive_path": pl.String}


def archive_files(con, store: DataStore, archive: Archive, files: list[tuple[Path, str | None, dt.date | None]],
                  hashes: list[str], source: str) -> int:
    """Archive landed files of distinct paths, given their sha256s: the bytes not archived yet are copied, and each
    file whose bytes are not the version in force for its path gets a `raw_submissions` row (all in one insert).
    Returns how many were new."""
    paths = [path.relative_to(store.landing).as_posix() for path, _, _ in files]
    current = {s.source_path: s.sha256 for s in submissions_in_force(con, paths=paths)}
    rows = []
    for (path, agency_id, month), source_path, sha in zip(files, paths, hashes):
        if current.get(source_path) == sha:
            continue  # an identical resubmission of the version in force
        archive_path = f"{sha[:2]}/{sha}{path.suffix.lower()}"
        archive.put(path, archive_path)
        landed = path.stat()
        rows.append((source_path, sha, landed.st_size,
                     dt.datetime.fromtimestamp(landed.st_mtime, dt.timezone.utc),  # when it landed on the drop
                     dt.datetime.now(dt.timezone.utc), source, agency_id, month, archive_path))
    if rows:
        con.register("archived_now", pl.DataFrame(rows, schema=ARCHIVED_SCHEMA, orient="row"))
        con.execute("INSERT INTO raw_submissions BY NAME SELECT * FROM archived_now")
        con.unregister("archived_now")
    return len(rows)


def archive_all(store: DataStore, files: list[tuple[Path, str | None, dt.date | None]],
                source: str = "file_drop", storage: str | None = None) -> dict:
    """Archive landed files (`storage`: the registry's spark.storage, the archive's root when set)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # hashlib releases the GIL: in parallel
        hashes = list(pool.map(sha256_file, [path for path, _, _ in files]))
    with store.connect() as con:
        con.execute("BEGIN")
        new = archive_files(con, store, Archive.of(store, storage), files, hashes, source)
        pause_point("archive")
        con.execute("COMMIT")
    return {"files_seen": len(files), "files_new": new, "files_unchanged": len(files) - new,
            "bytes": sum(path.stat().st_size for path, _, _ in files)}


@dg.asset(pool=WAREHOUSE_POOL, group_name="raw", partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run(),
          kinds={"duckdb"})
def raw_agency_returns(context: dg.AssetExecutionContext, store: DataStore,
                       settings: Settings) -> dg.MaterializeResult:
    """Every agency return for the months in this run, archived unchanged (sha256, size, received time)."""
    only = agencies_of_run(context)
    window = context.partition_time_window
    files, problems = [], []
    agencies = [a for a in settings.config.agencies
                if a.connector == "file_drop" and (only is None or a.id in only)]
    for month in months_in(window):
        for agency in agencies:
            found, lost = month_folder(store, agency.folder, month)
            files += [(path, agency.id, month) for path in found]
            problems += [(problem, agency.id, month) for problem in lost]
    counts = archive_all(store, files, storage=settings.config.registry.spark.storage)
    record_landing_problems(store, problems, window.start.date(), window.end.date(), [a.id for a in agencies])
    return dg.MaterializeResult(metadata={**counts, "agencies": len({a for _, a, _ in files}),
                                          "not_taken": len(problems)})


def month_folder(store: DataStore, agency_folder: str, month: dt.date) -> tuple[list[Path], list[LandingProblem]]:
    """The files of one agency's month folder, and what in it (or in its place) is not taken. Files in its
    subfolders are not returns (a draft in old/ is not a second return): staging accounts for them by name."""
    folder = store.landing / agency_folder / month.strftime("%Y-%m")
    if not folder.exists() and not folder.is_symlink():
        return [], []
    if folder.is_symlink() or not folder.is_dir():
        rel = folder.relative_to(store.landing).as_posix()
        what = "a link, never followed" if folder.is_symlink() else "a file named like a month folder"
        return [], [LandingProblem(rel, "not_a_folder", f"{what}; returns go in a folder named YYYY-MM")]
    files, problems = scan_landing(store.landing, folder)
    return [path for path in files if path.parent == folder], problems


def record_landing_problems(store: DataStore, problems: list[tuple], start: dt.date | None, end: dt.date | None,
                            agencies: list[str] | None) -> None:
    """Replace the `landing` quarantine rows of this run's slice (months and agencies; central files when start is
    None) with `problems`: (LandingProblem, agency_id, month)."""
    rows = [{"return_type": "landing", "agency_id": agency_id, "month": month, "source_file": problem.path,
             "sha256": "", "row_number": None, "rule": problem.rule, "column_name": None, "offending_value": None,
             "message": problem.message} for problem, agency_id, month in problems]
    with store.connect() as con:
        con.execute("BEGIN")
        if start is None:
            con.execute("DELETE FROM quarantine WHERE return_type = 'landing' AND month IS NULL AND "
                        "(agency_id IS NULL OR list_contains(?::VARCHAR[], agency_id))", [agencies or []])
        else:
            delete_run_slice(con, "quarantine", start, end, agencies, return_type="landing")
        quarantine.write(con, rows)
        con.execute("COMMIT")


@dg.asset(pool=WAREHOUSE_POOL, group_name="raw", kinds={"duckdb"})
def raw_reference_files(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    """The central files, archived unchanged: the service catalogue and the benefits register."""
    # asking for settings also means the configuration is checked before this step archives anything, whichever
    # executor runs it and whatever else the run selects.
    files, problems, root = [], [], store.landing.resolve()
    for rel in CENTRAL_FILES.values():
        path = store.landing / rel
        if not path.exists() and not path.is_symlink():
            continue
        taken = inside(root, path)
        if isinstance(taken, LandingProblem):
            problems.append((LandingProblem(rel, taken.rule, taken.message), None, None))
        else:
            files.append((path, None, None))
    counts = archive_all(store, files, storage=settings.config.registry.spark.storage)
    record_landing_problems(store, problems, None, None, None)
    return dg.MaterializeResult(metadata={**counts, "not_taken": len(problems)})


def fetch_api_returns(store: DataStore, agency: Agency, files: dict[str, str], month: dt.date,
                      limits: HttpLimits | None = None) -> list[dict]:
    """Fetch one month of an http agency's returns into its landing folder, one file per return type (`files`:
    return type -> the file name its mapping gives); returns a failure record for each return not fetched."""
    failures = []
    folder = store.landing / agency.folder / month.strftime("%Y-%m")
    for return_type, file in files.items():
        source = HttpSource(agency_id=agency.id, url=agency.url.replace("{return}", return_type),
                            format=agency.format, credential_env=agency.credential_env,
                            pagination=agency.pagination, max_pages=agency.max_pages,
                            return_deadline_seconds=agency.return_deadline_seconds,
                            max_body_bytes=(limits or HttpLimits()).max_body_bytes,
                            deadline_seconds=(limits or HttpLimits()).deadline_seconds)
        target = folder / file
        try:
            data = fetch(source, month.strftime("%Y-%m"))
        except FetchError as error:
            failures.append({"return_type": "api_fetch", "agency_id": agency.id, "month": month,
                             "source_file": target.relative_to(store.landing).as_posix(), "sha256": "",
                             "row_number": None, "rule": error.rule, "column_name": return_type,
                             "offending_value": display_url(error.url), "message": str(error)})
            continue
        if target.exists() and target.read_bytes() == data:
            continue  # unchanged: keep the first time it was received
        write_atomically(target, lambda temporary: temporary.write_bytes(data))
    return failures


@dg.asset(pool=WAREHOUSE_POOL, group_name="raw", partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run(),
          kinds={"duckdb"})
def raw_api_returns(context: dg.AssetExecutionContext, store: DataStore,
                    settings: Settings) -> dg.MaterializeResult:
    """Returns of agencies with an HTTP API, fetched for the months of this run and archived unchanged. A fetch
    that fails (refused credential, server errors after retries, an endless page sequence) is quarantined with
    its rule; the rest of the run goes on."""
    window = context.partition_time_window
    only = agencies_of_run(context)
    config = settings.config
    agencies = [a for a in config.agencies if a.connector == "http" and (only is None or a.id in only)]
    failures, files = [], []
    for month in months_in(window):
        for agency in agencies:
            names = {t: config.layout(agency, t).file for t in RETURN_TYPES}
            failures += fetch_api_returns(store, agency, names, month, config.limits.http)
            files += [(path, agency.id, month) for path in month_folder(store, agency.folder, month)[0]]
    counts = archive_all(store, files, source="http", storage=config.registry.spark.storage)
    with store.connect() as con:
        con.execute("BEGIN")
        # only the agencies this run fetched: another agency's failed fetch stays on record
        delete_run_slice(con, "quarantine", window.start.date(), window.end.date(), [a.id for a in agencies],
                         return_type="api_fetch")
        quarantine.write(con, failures)
        con.execute("COMMIT")
    return dg.MaterializeResult(metadata={**counts, "fetch_failures": len(failures),
                                          "failures": dg.MetadataValue.json([f["message"] for f in failures[:10]])})


@dg.asset(pool=WAREHOUSE_POOL, group_name="raw", kinds={"duckdb"})
def raw_performance_records(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    """Performance-Platform record files, archived unchanged (they cover many months, so they are not monthly)."""
    files, problems = [], []
    agencies = [a for a in settings.config.agencies if a.connector == "performance_platform"]
    for agency in agencies:
        if (store.landing / agency.folder).is_dir():
            found, lost = scan_landing(store.landing, store.landing / agency.folder)
            files += [(path, agency.id, None) for path in found]
            problems += [(problem, agency.id, None) for problem in lost]
    counts = archive_all(store, files, source="performance_platform",
                         storage=settings.config.registry.spark.storage)
    record_landing_problems(store, problems, None, None, [a.id for a in agencies])
    return dg.MaterializeResult(metadata={**counts, "not_taken": len(problems)})
