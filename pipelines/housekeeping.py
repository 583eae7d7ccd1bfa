"""Housekeeping: the retention policy (config/housekeeping.yaml), and backup and restore of warehouse and archive.

    python -m pipelines.housekeeping retention [--dry-run]
    python -m pipelines.housekeeping backup DEST     # DEST must not exist yet
    python -m pipelines.housekeeping restore SRC     # into $PIPELINE_DATA_DIR, which must hold no warehouse/archive

A backup is the warehouse exported as Parquet (readable by any DuckDB, and by more than DuckDB) plus a copy of the
raw archive, with the sha256 of every file in MANIFEST.json. The published files are not in it: they are rebuilt
from the warehouse and archive by re-running the pipeline, byte for byte.
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import yaml

from pipelines.registry import CONFIG_DIR
from pipelines.resources import DUCKDB_CONFIG, WAREHOUSE_POOL, DataStore, data_store_from_env
from transforms import sql

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclass(frozen=True)
class RetentionPolicy:
    superseded_keep_days: int | None = None  # None: every archived version is kept
    run_history_keep_days: int | None = 400
    temporary_keep_hours: int | None = 24


def load_policy(path: Path = CONFIG_DIR / "housekeeping.yaml") -> RetentionPolicy:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return RetentionPolicy(raw["raw_archive"]["superseded_keep_days"], raw["run_history"]["keep_days"],
                           raw["temporary_files"]["keep_hours"])


def _purge_superseded(store: DataStore, cutoff: dt.datetime, now: dt.datetime, dry_run: bool) -> list[str]:
    with store.connect() as con:
        con.execute(sql("archive_purges"))
        copies = con.execute(sql("superseded_archive_copies"), {"cutoff": cutoff}).fetchall()
        if dry_run or not copies:
            return [path for path, _, _ in copies]
        # Delete first, record second: a run killed in between finds the copy again next time (unlink is a no-op).
        for path, _, _ in copies:
            (store.archive / path).unlink(missing_ok=True)
        con.execute("BEGIN")
        con.executemany("INSERT INTO archive_purges VALUES (?, ?, ?, ?)",
                        [[path, sha, now, f"superseded; last received {received:%Y-%m-%d}, retention "
                                          f"{(now - cutoff).days} days"] for path, sha, received in copies])
        con.execute("COMMIT")
    return [path for path, _, _ in copies]


def _leftover_temporary_files(store: DataStore, cutoff: dt.datetime) -> list[Path]:
    candidates = [*store.archive.rglob("*.tmp"), *store.published.glob(".*.tmp"),
                  *(store.root / "alerts").glob(".*.tmp")]
    return sorted(p for p in candidates if dt.datetime.fromtimestamp(p.stat().st_mtime, dt.timezone.utc) < cutoff)


def apply_retention(store: DataStore, instance: dg.DagsterInstance, policy: RetentionPolicy,
                    now: dt.datetime | None = None, dry_run: bool = False) -> dict:
    """Delete what the policy says may go; return what was (or, with dry_run, would be) deleted."""
    now = now or dt.datetime.now(dt.timezone.utc)
    report = {"archive_copies": [], "runs": [], "temporary_files": []}
    if policy.superseded_keep_days is not None:
        report["archive_copies"] = _purge_superseded(
            store, now - dt.timedelta(days=policy.superseded_keep_days), now, dry_run)
    if policy.run_history_keep_days is not None:
        old = instance.get_run_records(dg.RunsFilter(
            created_before=now - dt.timedelta(days=policy.run_history_keep_days), statuses=FINISHED))
        report["runs"] = [record.dagster_run.run_id for record in old]
        if not dry_run:
            for run_id in report["runs"]:
                instance.delete_run(run_id)
                instance.compute_log_manager.delete_logs(prefix=[run_id])
    if policy.temporary_keep_hours is not None:
        leftovers = _leftover_temporary_files(store, now - dt.timedelta(hours=policy.temporary_keep_hours))
        report["temporary_files"] = [p.relative_to(store.root).as_posix() for p in leftovers]
        if not dry_run:
            for path in leftovers:
                path.unlink(missing_ok=True)
    return report


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def backup(store: DataStore, target: Path) -> dict:
    """Export the warehouse and copy the archive into `target` (which must not exist), all or nothing."""
    target = Path(target).resolve()
    if target.exists():
        raise FileExistsError(f"backup target {target} already exists; give a new folder")
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    # The connection holds the warehouse lock: no run can write (or archive a file) while the backup is taken.
    with store.connect() as con:
        con.execute(f"EXPORT DATABASE {_quoted(partial / 'warehouse')} (FORMAT parquet, COMPRESSION zstd)")
        if store.archive.is_dir():
            shutil.copytree(store.archive, partial / "archive", ignore=shutil.ignore_patterns("*.tmp"))
    files = {p.relative_to(partial).as_posix(): _sha256(p) for p in sorted(partial.rglob("*")) if p.is_file()}
    manifest = {"created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "duckdb_version": duckdb.__version__, "files": files}
    (partial / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, target)
    return {"folder": str(target), "files": len(files), "bytes": sum(p.stat().st_size for p in target.rglob("*"))}


def restore(source: Path, store: DataStore) -> dict:
    """Check every file of a backup against its manifest, then put warehouse and archive into an empty data folder."""
    source = Path(source).resolve()
    manifest = json.loads((source / "MANIFEST.json").read_text(encoding="utf-8"))
    for relative, expected in manifest["files"].items():
        if not (source / relative).is_file():
            raise ValueError(f"backup {source} is incomplete: {relative} is missing")
        if _sha256(source / relative) != expected:
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
    finally:
        con.close()
    if archive.is_dir():
        if store.archive.exists():
            store.archive.rmdir()  # empty (checked above)
        os.replace(archive, store.archive)
    os.replace(warehouse, store.warehouse)
    return {"warehouse": str(store.warehouse), "files_checked": len(manifest["files"])}


@dg.op(pool=WAREHOUSE_POOL, description="Applies config/housekeeping.yaml: old runs, superseded raw copies, leftovers.")
def apply_retention_policy(context: dg.OpExecutionContext, store: DataStore) -> None:
    report = apply_retention(store, context.instance, load_policy())
    context.log.info("deleted: " + ", ".join(f"{len(items)} {what}" for what, items in report.items()))


@dg.job(description="Retention policy (config/housekeeping.yaml). Raw submissions in force are never deleted.")
def housekeeping():
    apply_retention_policy()


housekeeping_schedule = dg.ScheduleDefinition(
    name="housekeeping_schedule", job=housekeeping, cron_schedule="0 3 1 * *", execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.RUNNING)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    retention = commands.add_parser("retention", help="apply config/housekeeping.yaml now")
    retention.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    commands.add_parser("backup", help="back up warehouse and archive").add_argument("dest", type=Path)
    commands.add_parser("restore", help="restore a backup into an empty data folder").add_argument("src", type=Path)
    args = parser.parse_args()
    store = data_store_from_env()
    if args.command == "retention":
        with dg.DagsterInstance.get() as instance:
            report = apply_retention(store, instance, load_policy(), dry_run=args.dry_run)
    elif args.command == "backup":
        report = backup(store, args.dest)
    else:
        report = restore(args.src, store)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
