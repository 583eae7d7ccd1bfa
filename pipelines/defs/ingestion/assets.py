"""Raw layer: every submission archived unchanged, by checksum, and listed in `raw_submissions`.

A file dropped at data/landing/<agency>/<YYYY-MM>/<name> is copied to data/archive/<sha[:2]>/<sha><suffix>
(read-only) the first time its bytes are seen; an identical resubmission changes nothing, a changed file is a
new version beside the old one. Nothing here parses a file: staging reads the archived copies.
"""


import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg

from pipelines.defs.ingestion.http import FetchError, HttpSource, display_url, fetch
from pipelines.lib.config import RETURN_TYPES, Agency
from pipelines.lib.faults import pause_point
from pipelines.lib.files import CENTRAL_FILES, landed_files, sha256_file, write_atomically
from pipelines.lib.partitions import agencies_of_run, monthly, months_in
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from pipelines.lib.warehouse import delete_run_slice, write_quarantine

def archive_file(con, store: DataStore, path: Path, agency_id: str | None, month: dt.date | None,
                 source: str = "file_drop") -> bool:
    """Archive one landed file; True when these bytes are new for this path."""
    sha = sha256_file(path)
    size = path.stat().st_size
    source_path = path.relative_to(store.landing).as_posix()
    current = con.execute("SELECT sha256 FROM current_submissions WHERE source_path = ?", [source_path]).fetchall()
    if current and current[0][0] == sha:
        return False  # an identical resubmission of the version in force
    archive_path = f"{sha[:2]}/{sha}{path.suffix.lower()}"
    target = store.archive / archive_path
    if not target.exists():
        write_atomically(target, lambda temporary: (shutil.copyfile(path, temporary), os.chmod(temporary, 0o444)))
    received = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)  # when it landed on the drop
    con.execute("INSERT INTO raw_submissions BY NAME SELECT ? AS source_path, ? AS sha256, ? AS size_bytes, "
                "? AS received_at, ? AS archived_at, ? AS source, ? AS agency_id, ? AS month, ? AS archive_path",
                [source_path, sha, size, received, dt.datetime.now(dt.timezone.utc), source, agency_id, month,
                 archive_path])
    return True


def archive_all(store: DataStore, files: list[tuple[Path, str | None, dt.date | None]],
                source: str = "file_drop") -> dict:
    with store.connect() as con:
        con.execute("BEGIN")
        new = sum(archive_file(con, store, path, agency, month, source) for path, agency, month in files)
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
    files = []
    for month in months_in(context.partition_time_window):
        for agency in settings.config.agencies:
            if only is not None and agency.id not in only:
                continue
            folder = store.landing / agency.folder / month.strftime("%Y-%m")
            if agency.connector == "file_drop" and folder.is_dir():
                files += [(path, agency.id, month) for path in landed_files(store.landing, folder)]
    counts = archive_all(store, files)
    return dg.MaterializeResult(metadata={**counts, "agencies": len({a for _, a, _ in files})})


@dg.asset(pool=WAREHOUSE_POOL, group_name="raw", kinds={"duckdb"})
def raw_reference_files(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    """The central files, archived unchanged: the service catalogue and the benefits register."""
    # settings is not read here, but asking for it means the configuration is checked before this step archives
    # anything, whichever executor runs it and whatever else the run selects.
    files = [(store.landing / rel, None, None) for rel in CENTRAL_FILES.values() if (store.landing / rel).is_file()]
    return dg.MaterializeResult(metadata=archive_all(store, files))


def fetch_api_returns(store: DataStore, agency: Agency, files: dict[str, str], month: dt.date) -> list[dict]:
    """Fetch one month of an http agency's returns into its landing folder, one file per return type (`files`:
    return type -> the file name its mapping gives); returns a failure record for each return not fetched."""
    failures = []
    folder = store.landing / agency.folder / month.strftime("%Y-%m")
    for return_type, file in files.items():
        source = HttpSource(agency_id=agency.id, url=agency.url.replace("{return}", return_type),
                            format=agency.format, credential_env=agency.credential_env,
                            pagination=agency.pagination)
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
            failures += fetch_api_returns(store, agency, names, month)
            folder = store.landing / agency.folder / month.strftime("%Y-%m")
            if folder.is_dir():
                files += [(path, agency.id, month) for path in landed_files(store.landing, folder)]
    counts = archive_all(store, files, source="http")
    with store.connect() as con:
        con.execute("BEGIN")
        # only the agencies this run fetched: another agency's failed fetch stays on record
        delete_run_slice(con, "quarantine", window.start.date(), window.end.date(), [a.id for a in agencies],
                         return_type="api_fetch")
        write_quarantine(con, failures)
        con.execute("COMMIT")
    return dg.MaterializeResult(metadata={**counts, "fetch_failures": len(failures),
                                          "failures": dg.MetadataValue.json([f["message"] for f in failures[:10]])})


@dg.asset(pool=WAREHOUSE_POOL, group_name="raw", kinds={"duckdb"})
def raw_performance_records(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    """Performance-Platform record files, archived unchanged (they cover many months, so they are not monthly)."""
    files = [(path, agency.id, None) for agency in settings.config.agencies
             if agency.connector == "performance_platform" and (store.landing / agency.folder).is_dir()
             for path in landed_files(store.landing, store.landing / agency.folder)]
    return dg.MaterializeResult(metadata=archive_all(store, files, source="performance_platform"))
