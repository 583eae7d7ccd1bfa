"""Backup and restore of warehouse and archive.

A backup is the warehouse exported as Parquet (readable by any DuckDB, and by more than DuckDB) plus a copy of the
raw archive, with the sha256 of every file in MANIFEST.json. The published files are not in it: they are rebuilt
from the warehouse and archive by re-running the pipeline, byte for byte.
"""

import datetime as dt
import json
import os
import shlex
import shutil
from pathlib import Path

import duckdb

from pipelines.lib.files import sha256_file
from pipelines.lib.resources import DataStore
from pipelines.lib.warehouse import DUCKDB_CONFIG


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def backup(store: DataStore, target: Path, storage: str | None = None) -> dict:
    """Export the warehouse and copy the archive into `target` (which must not exist), all or nothing. With the
    registry's spark.storage set the archive lives there, not in the data folder: it is not copied, and the report
    says so (`archive_not_copied`), for the storage's own backup to cover."""
    target = Path(target).resolve()
    if target.exists():
        raise FileExistsError(f"backup target {target} already exists; give a new folder")
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    # The connection holds the warehouse lock: no run can write (or archive a file) while the backup is taken.
    with store.connect() as con:
        con.execute(f"EXPORT DATABASE {_quoted(partial / 'warehouse')} (FORMAT parquet, COMPRESSION zstd)")
        if storage is None and store.archive.is_dir():
            shutil.copytree(store.archive, partial / "archive", ignore=shutil.ignore_patterns("*.tmp"))
    files = {p.relative_to(partial).as_posix(): sha256_file(p) for p in sorted(partial.rglob("*")) if p.is_file()}
    manifest = {"created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "duckdb_version": duckdb.__version__, "files": files}
    (partial / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, target)
    report = {"folder": str(target), "files": len(files), "bytes": sum(p.stat().st_size for p in target.rglob("*"))}
    if storage is not None:
        report["archive_not_copied"] = (f"the archive is under the storage root ({storage.rstrip('/')}/archive), "
                                        "not in this backup: back it up with the storage's own tools")
    return report


def restore(source: Path, store: DataStore) -> dict:
    """Check every file of a backup against its manifest, then put warehouse and archive into an empty data folder.
    The report's `next` is the command that republishes from them: a run over the months the archive holds."""
    source = Path(source).resolve()
    manifest = json.loads((source / "MANIFEST.json").read_text(encoding="utf-8"))
    for relative, expected in manifest["files"].items():
        if not (source / relative).is_file():
            raise ValueError(f"backup {source} is incomplete: {relative} is missing")
        if sha256_file(source / relative) != expected:
            raise ValueError(f"backup {source} is damaged: {relative} does not match its sha256 in MANIFEST.json")
    if store.warehouse.exists() or (store.archive.exists() and any(store.archive.iterdir())):
        raise FileExistsError(f"{store.root} already holds a warehouse or an archive; restore into an empty folder")
    # Both are built under temporary names and renamed at the end: a restore that fails leaves nothing in the way.
    store.root.mkdir(parents=True, exist_ok=True)
    archive, warehouse = store.root / ".archive.restoring", store.root / ".warehouse.restoring.duckdb"
    shutil.rmtree(archive, ignore_errors=True)
    warehouse.unlink(missing_ok=True)
    if (source / "archive").is_dir():
        shutil.copytree(source / "archive", archive)
    con = duckdb.connect(str(warehouse), config=DUCKDB_CONFIG)
    try:
        con.execute(f"IMPORT DATABASE {_quoted(source / 'warehouse')}")
        first, last = con.execute("SELECT strftime(min(month), '%Y-%m'), strftime(max(month), '%Y-%m') "
                                  "FROM raw_submissions").fetchall()[0]
    finally:
        con.close()
    if archive.is_dir():
        if store.archive.exists():
            store.archive.rmdir()  # empty (checked above)
        os.replace(archive, store.archive)
    os.replace(warehouse, store.warehouse)
    # Nothing is in landing/ after a restore, so the run that republishes is told the months the archive holds.
    months = f" --start {first} --end {last}" if first else ""
    return {"warehouse": str(store.warehouse), "files_checked": len(manifest["files"]),
            "next": f"PIPELINE_DATA_DIR={shlex.quote(str(store.root))} python -m pipelines.run{months}"}
