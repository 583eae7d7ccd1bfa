"""Raw layer: every submission archived unchanged, by checksum, and listed in `raw_submissions`.

A file dropped at data/landing/<agency>/<YYYY-MM>/<name> is copied to data/archive/<sha[:2]>/<sha><suffix>
(read-only) the first time its bytes are seen; an identical resubmission changes nothing, a changed file is a
new version beside the old one. Nothing here parses a file: staging reads the archived copies.
"""


import datetime as dt
import hashlib
import os
from pathlib import Path

import dagster as dg
from pipelines.faults import pause_point
from pipelines.partitions import monthly, months_in
from pipelines.registry import load_registry
from pipelines.resources import DataStore

CENTRAL = {"service_catalogue": "catalogue/services.csv", "benefits_register": "benefits/benefits_register.csv"}


def archive_file(con, store: DataStore, path: Path, agency_id: str | None, month: dt.date | None) -> bool:
    """Archive one landed file; True when these bytes are new for this path."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    source_path = path.relative_to(store.landing).as_posix()
    if con.execute("SELECT 1 FROM raw_submissions WHERE source_path = ? AND sha256 = ?",
                   [source_path, sha]).fetchone():
        return False
    archive_path = f"{sha[:2]}/{sha}{path.suffix.lower()}"
    target = store.archive / archive_path
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        temporary.unlink(missing_ok=True)  # a read-only leftover of a write killed half-way
        temporary.write_bytes(data)
        os.chmod(temporary, 0o444)
        os.replace(temporary, target)
    received = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)  # when it landed on the drop
    con.execute("INSERT INTO raw_submissions BY NAME SELECT ? AS source_path, ? AS sha256, ? AS size_bytes, "
                "? AS received_at, ? AS archived_at, 'file_drop' AS source, ? AS agency_id, ? AS month, "
                "? AS archive_path",
                [source_path, sha, len(data), received, dt.datetime.now(dt.timezone.utc), agency_id, month,
                 archive_path])
    return True


def _archive_all(store: DataStore, files: list[tuple[Path, str | None, dt.date | None]]) -> dict:
    with store.connect() as con:
        con.execute("BEGIN")
        new = sum(archive_file(con, store, path, agency, month) for path, agency, month in files)
        pause_point("archive")
        con.execute("COMMIT")
    return {"files_seen": len(files), "files_new": new, "files_unchanged": len(files) - new,
            "bytes": sum(path.stat().st_size for path, _, _ in files)}


@dg.asset(group_name="raw", partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run(),
          kinds={"duckdb"})
def raw_agency_returns(context: dg.AssetExecutionContext, store: DataStore) -> dg.MaterializeResult:
    """Every agency return for the months in this run, archived unchanged (sha256, size, received time)."""
    registry = load_registry()
    files = []
    for month in months_in(context.partition_time_window):
        for agency in registry.agencies:
            folder = store.landing / agency.id / month.strftime("%Y-%m")
            if folder.is_dir():
                files += [(path, agency.id, month) for path in sorted(folder.rglob("*")) if path.is_file()]
    counts = _archive_all(store, files)
    return dg.MaterializeResult(metadata={**counts, "agencies": len({a for _, a, _ in files})})


@dg.asset(group_name="raw", kinds={"duckdb"})
def raw_reference_files(store: DataStore) -> dg.MaterializeResult:
    """The central files, archived unchanged: the service catalogue and the benefits register."""
    files = [(store.landing / rel, None, None) for rel in CENTRAL.values() if (store.landing / rel).is_file()]
    return dg.MaterializeResult(metadata=_archive_all(store, files))


def current_submissions(con, start: dt.date, end: dt.date) -> list[tuple]:
    """The latest version of each return file for months in [start, end):
    (source_path, sha256, agency_id, month, archive_path)."""
    return con.execute("SELECT * FROM current_submissions WHERE month >= ? AND month < ? ORDER BY source_path",
                       [start, end]).fetchall()


def current_reference(con, name: str) -> tuple | None:
    """The latest version of a central file (a key of CENTRAL), or None when none was ever received."""
    return con.execute("SELECT * FROM current_submissions WHERE source_path = ?", [CENTRAL[name]]).fetchone()
