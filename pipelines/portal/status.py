"""Each submission's status, from the published submission accounting (data/published/, which never holds the
warehouse's lock) and, until the accounting has it, from Dagster's run storage: received and waiting for a run, in a
run now, or the run that took it failed; then published with its rows accepted and quarantined, superseded by a
later version (the accounting's word, or a later submission to the same path), or not read. A submission is found
in the accounting by its landing path and sha256, and in the run storage by the runs created after it whose
partitions cover its month and whose agencies (the sensor's tag; a run without it stages every agency) include
its agency."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import datetime as dt

import dagster as dg
import polars as pl

from pipelines.lib.partitions import AGENCIES_TAG
from pipelines.portal.store import Upload


@dataclass(frozen=True)
class Status:
    state: str  # not_submitted | received | in_a_run | run_failed | published | superseded | unreadable |
    #            not_recognised
    rows_read: int | None = None
    rows_accepted: int | None = None
    rows_quarantined: int | None = None

    @property
    def words(self) -> str:
        return {"not_submitted": "Not submitted", "received": "Received: waiting for the next run",
                "in_a_run": "In a run now", "run_failed": "The run that took it failed: the central team will run it "
                "again",
                "published": "Published", "superseded": "Superseded by a later version",
                "unreadable": "Could not be read", "not_recognised": "Not recognised"}[self.state]

    def as_json(self) -> dict:
        return asdict(self)


def of_submissions(published: Path, uploads: list[Upload], in_force: dict[str, str],
                   instance: dg.DagsterInstance | None = None) -> list[Status]:
    """The status of each upload; `in_force`: landing path -> sha256 of the version submitted last (Store.in_force),
    so that a version replaced before any run archived it reads as superseded, not as waiting; `instance`: the
    pipeline's Dagster instance, if the portal can see it."""
    accounting = published / "submission_accounting.parquet"
    wanted = [(u.landing_path, u.sha256) for u in uploads if u.landing_path]
    found: dict[tuple[str, str], dict] = {}
    if wanted and accounting.exists():
        rows = (pl.scan_parquet(accounting)
                .filter(pl.col("source_file").is_in([path for path, _ in wanted]))
                .group_by("source_file", "sha256")
                .agg(pl.col("file_status").first(), pl.col("rows_read", "rows_accepted", "rows_quarantined").sum())
                .collect())
        found = {(row["source_file"], row["sha256"]): row for row in rows.iter_rows(named=True)}
    states = []
    for upload in uploads:
        row = found.get((upload.landing_path, upload.sha256))
        if upload.landing_path is None:
            states.append(Status("not_submitted"))
        elif row is None and in_force.get(upload.landing_path) != upload.sha256:
            states.append(Status("superseded"))
        elif row is None:
            states.append(Status(_in_runs(instance, upload) if instance else "received"))
        else:
            state = {"read": "published"}.get(row["file_status"], row["file_status"])
            states.append(Status(state, row["rows_read"], row["rows_accepted"], row["rows_quarantined"]))
    return states


IN_PROGRESS = {dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED}


def _in_runs(instance: dg.DagsterInstance, upload: Upload) -> str:
    """received, in_a_run or run_failed, from the runs created since the upload was submitted (newest first)."""
    month = f"{upload.month}-01"
    since = dt.datetime.fromisoformat(upload.submitted_at)
    for record in instance.get_run_records(dg.RunsFilter(created_after=since), limit=100):
        tags, run = record.dagster_run.tags, record.dagster_run
        start = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_start")
        end = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_end")
        agencies = tags.get(AGENCIES_TAG)
        if start and end and start <= month <= end and (agencies is None or upload.agency_id in agencies.split(",")):
            if run.status in IN_PROGRESS:
                return "in_a_run"
            if run.status == dg.DagsterRunStatus.FAILURE:
                return "run_failed"
            return "received"  # a run that ended well: the accounting has it once it is published
    return "received"
