"""Each submission's status, read from the published submission accounting (data/published/, which never holds the
warehouse's lock): received and waiting for a run, published with its rows accepted and quarantined, superseded by
a later version (the accounting's word, or a later submission to the same path), or not read, found by the
submission's landing path and sha256."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from pipelines.portal.store import Upload


@dataclass(frozen=True)
class Status:
    state: str  # not_submitted | received | published | superseded | unreadable | not_recognised
    rows_read: int | None = None
    rows_accepted: int | None = None
    rows_quarantined: int | None = None

    @property
    def words(self) -> str:
        return {"not_submitted": "Not submitted", "received": "Received: waiting for the next run",
                "published": "Published", "superseded": "Superseded by a later version",
                "unreadable": "Could not be read", "not_recognised": "Not recognised"}[self.state]

    def as_json(self) -> dict:
        return asdict(self)


def of_submissions(published: Path, uploads: list[Upload], in_force: dict[str, str]) -> list[Status]:
    """The status of each upload; `in_force`: landing path -> sha256 of the version submitted last (Store.in_force),
    so that a version replaced before any run archived it reads as superseded, not as waiting."""
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
        elif row is None:
            states.append(Status("received" if in_force.get(upload.landing_path) == upload.sha256 else "superseded"))
        else:
            state = {"read": "published"}.get(row["file_status"], row["file_status"])
            states.append(Status(state, row["rows_read"], row["rows_accepted"], row["rows_quarantined"]))
    return states
