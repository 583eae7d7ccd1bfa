"""The retention policy (config/housekeeping.yaml): what may be deleted, and deleting it (old runs, superseded raw
copies, leftovers of killed writes). The version of each return in force is never deleted."""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipelines.lib.archive import Archive
from pipelines.lib.config import Housekeeping
from pipelines.lib.resources import DataStore
from transforms import sql

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclass(frozen=True)
class RetentionPolicy:
    superseded_keep_days: int | None = None  # None: every archived version is kept
    run_history_keep_days: int | None = 400
    temporary_keep_hours: int | None = 24


def retention_policy(housekeeping: Housekeeping) -> RetentionPolicy:
    """The policy that config/housekeeping.yaml sets."""
    return RetentionPolicy(housekeeping.raw_archive.superseded_keep_days, housekeeping.run_history.keep_days,
                           housekeeping.temporary_files.keep_hours)


def _purge_superseded(store: DataStore, archive: Archive, cutoff: dt.datetime, now: dt.datetime,
                      dry_run: bool) -> list[str]:
    with store.connect() as con:
        con.execute(sql("archive_purges"))
        copies = con.execute(sql("superseded_archive_copies"), {"cutoff": cutoff}).fetchall()
        if dry_run or not copies:
            return [path for path, _, _ in copies]
        # Delete first, record second: a run killed in between finds the copy again next time (unlink is a no-op).
        for path, _, _ in copies:
            archive.remove(path)
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
                    now: dt.datetime | None = None, dry_run: bool = False, storage: str | None = None) -> dict:
    """Delete what the policy says may go; return what was (or, with dry_run, would be) deleted. `storage`: the
    registry's spark.storage, where the archive is when it is set."""
    now = now or dt.datetime.now(dt.timezone.utc)
    report = {"archive_copies": [], "runs": [], "temporary_files": []}
    if policy.superseded_keep_days is not None:
        report["archive_copies"] = _purge_superseded(
            store, Archive.of(store, storage), now - dt.timedelta(days=policy.superseded_keep_days), now, dry_run)
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
