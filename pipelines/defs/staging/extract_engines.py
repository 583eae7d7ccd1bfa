"""Which engine stages an agency's extracts, and the Spark path: launched through Dagster Pipes, its outputs
written as Parquet under a run-scoped prefix, then loaded into the warehouse by the one serialised step.

An agency's registry entry says `engine: spark` (default `duckdb`) and, optionally, `extract_location`: a Parquet
folder per month (`{month}` is YYYY-MM; a local path or an object-store URI) where its extracts live and are read,
instead of landed files copied into the archive. The registry's `spark:` section says where Spark runs (`master`,
or `remote` for a Spark Connect address, `token_env` naming the variable that holds its token, `conf`) and the one
root for what executors read and write (`storage`, default data/stage-outputs/ on the run worker: local masters
only): each run's copies of archived extracts (`<storage>/<run id>/inputs/`, when storage is set) and its
outputs. Three steps (SparkStage): the inputs and the job's spec written in the `warehouse` pool, the Spark job
(pipelines/lib/spark_job.py) outside it, never opening the warehouse (any number at once, on any worker), and
load_stage_outputs in the pool again, the only one that writes the stage's tables.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path, PurePosixPath

import dagster as dg

from pipelines.lib.config import Config, Spark
from pipelines.lib import faults, quarantine
from pipelines.lib.warehouse import delete_run_slice
from transforms.domain import add_months

RETURN_TYPE = "transaction_extract"
SPEC = "spec.json"  # under a run's prefix: the agency-months and files the job stages, and archived files unreadable


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    months, month = [], start
    while month < end:
        months.append(month)
        month = add_months(month, 1)
    return months


def spark_agency_months(config: Config, submissions: dict, start: dt.date, end: dt.date,
                        agencies: list[str] | None) -> dict:
    """The agency-months in [start, end) that Spark stages: {(agency, month): job}, a job naming its archived files
    (landed extracts, `submissions` as extract_submissions gives them) or the folder where they live."""
    jobs = {}
    for agency in config.agencies:
        if agency.engine != "spark" or (agencies is not None and agency.id not in agencies):
            continue
        if agency.extract_location:
            for month in month_starts(start, end):
                jobs[(agency.id, month)] = {"agency": agency.id, "month": month.isoformat(),
                                            "location": agency.extract_location.replace("{month}",
                                                                                        month.strftime("%Y-%m"))}
        else:
            for (agency_id, month), files in submissions.items():
                if agency_id == agency.id:
                    jobs[(agency_id, month)] = {"agency": agency_id, "month": month.isoformat(), "files": files}
    return jobs


def run_root(store, settings: Spark, run_id: str) -> str:
    """Where this run's Spark inputs and outputs go: <storage>/<run id> (storage default <data_dir>/stage-outputs)."""
    root = settings.storage or (store.root / "stage-outputs").as_uri()
    return f"{root.rstrip('/')}/{run_id}"


def staged_input(path: Path, name: str, root: str, agency_id: str, month: dt.date, index: int,
                 settings: Spark, archived: bool) -> str:
    """The URI executors read an extract from: the archived file itself when no storage is set (a local master, on
    this machine) and it is one, else a copy under <run root>/inputs/ (where every executor can read it, and which
    outlives the step that converted a CSV)."""
    if settings.storage is None and archived:
        return path.as_uri()
    import pyarrow.fs as pafs

    from pipelines.lib.spark_job import as_uri, filesystem

    target = f"{root}/inputs/{agency_id}/{month:%Y-%m}/{index:03d}-{PurePosixPath(name).stem}.parquet"
    fs, inside = filesystem(target)
    fs.create_dir(inside.rsplit("/", 1)[0], recursive=True)
    pafs.copy_files(str(path), inside, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    return as_uri(inside, target) if "://" in target else Path(inside).as_uri()


class SparkStage:
    """The agency-months of one run that Spark stages, in three steps so that the cluster never waits on the
    warehouse nor the warehouse on the cluster: `prepare` (in the `warehouse` pool: the job's inputs and spec written
    under the run's root), `compute` (outside the pool: the job, through Dagster Pipes), then `load` (in the pool
    again, inside the warehouse transaction)."""

    def __init__(self, jobs: dict, prefix: str | None, start: dt.date, end: dt.date, agencies: list[str] | None,
                 unreadable: list[tuple] = ()):
        self.jobs, self.prefix, self.start, self.end, self.agencies = jobs, prefix, start, end, agencies
        self.unreadable = list(unreadable)

    @staticmethod
    def prepare(context, con, store, config: Config, submissions: dict, start: dt.date, end: dt.date,
                agencies: list[str] | None, as_parquet, work: Path) -> dict:
        """Write the run's Spark inputs (archived extracts as Parquet where executors read them, the catalogue
        snapshot) and the job's spec (<prefix>/spec.json); its metadata. `as_parquet(path, source_path, work)` is
        the DuckDB path's check of an archived file (it raises ValueError with the reason it cannot be staged)."""
        jobs = spark_agency_months(config, submissions, start, end, agencies)
        if not jobs:
            return {}
        settings = config.registry.spark
        root = run_root(store, settings, context.run.run_id)
        specs, unreadable = [], []
        for (agency_id, month), job in sorted(jobs.items()):
            if "files" in job:
                files = []
                for source_path, sha, archive_path in job["files"]:
                    try:
                        path = as_parquet(store.archive / archive_path, source_path, work)
                    except ValueError as error:
                        unreadable.append((agency_id, month.isoformat(), source_path, sha, str(error)))
                        continue
                    files.append({"source_file": source_path, "sha256": sha,
                                  "uri": staged_input(Path(path), source_path, root, agency_id, month, len(files),
                                                      settings, archived=Path(path).is_relative_to(store.archive))})
                job = {**job, "files": files}
                if not files:
                    continue
            specs.append(job)
        prefix = f"{root}/stg_extract_transactions"
        if specs:
            _write(con.sql("SELECT service_id, agency_id, channels_offered FROM stg_service_catalogue "
                           "ORDER BY service_id").to_arrow_table(), f"{prefix}/catalogue.parquet")
        _write_text(json.dumps({"agency_months": specs, "unreadable": unreadable}), f"{prefix}/{SPEC}")
        return {"spark_agency_months": len(jobs), "spark_files_staged": sum(len(j.get("files", ())) for j in specs)}

    @staticmethod
    def compute(context, store, config: Config) -> dg.MaterializeResult:
        """Run the job the spec describes through Dagster Pipes, holding no pool slot; the job's own metadata."""
        if not any(agency.engine == "spark" for agency in config.agencies):
            return dg.MaterializeResult()
        prefix = f"{run_root(store, config.registry.spark, context.run.run_id)}/stg_extract_transactions"
        spec = _read_json(f"{prefix}/{SPEC}")
        if spec is None or not spec["agency_months"]:
            return dg.MaterializeResult()
        faults.hold_point("spark_compute")
        with tempfile.TemporaryDirectory(prefix="spark-job-") as work:
            failure = Path(work) / "failure.txt"  # the job's one-line summary of why it failed, if it does
            try:
                invocation = dg.PipesSubprocessClient().run(
                    context=context, command=[sys.executable, "-m", "pipelines.lib.spark_job"],
                    extras={"spark": config.registry.spark.model_dump(exclude={"storage"}, exclude_unset=True),
                            "catalogue": f"{prefix}/catalogue.parquet", "output": prefix,
                            "agency_months": spec["agency_months"], "failure": str(failure)})
            except Exception:
                if failure.exists():  # the reason in the step's failure message, not only in a debug event
                    raise dg.Failure(description=f"the Spark job failed: {failure.read_text(encoding='utf-8')}") \
                        from None
                raise
        return invocation.get_materialize_result()

    @classmethod
    def computed(cls, context, store, config: Config | None, submissions: dict, start: dt.date, end: dt.date,
                 agencies: list[str] | None) -> "SparkStage":
        """The run's Spark agency-months as `prepare` and `compute` left them (none without a `config`)."""
        jobs = spark_agency_months(config, submissions, start, end, agencies) if config is not None else {}
        if not jobs:
            return cls(jobs, None, start, end, agencies)
        if context is None:
            raise ValueError(f"{sorted({a for a, _ in jobs})}: engine spark is launched through Dagster Pipes, "
                             "from the asset stg_extract_spark_outputs (no context given)")
        prefix = f"{run_root(store, config.registry.spark, context.run.run_id)}/stg_extract_transactions"
        spec = _read_json(f"{prefix}/{SPEC}") or {"unreadable": []}
        unreadable = [(agency_id, dt.date.fromisoformat(month), path, sha, reason)
                      for agency_id, month, path, sha, reason in spec["unreadable"]]
        return cls(jobs, prefix, start, end, agencies, unreadable)

    def load(self, con) -> list[dict]:
        """Inside the caller's transaction: replace the run's slice of the manifest, then load the outputs and the
        archived files found unreadable; the accounting rows (already written to submission_accounting)."""
        delete_run_slice(con, "extract_manifest", self.start, self.end, self.agencies)
        quarantine.write(con, [{"return_type": RETURN_TYPE, "agency_id": agency_id, "month": month,
                                "source_file": source_path, "sha256": sha, "rule": "unreadable_file",
                                "offending_value": reason[:500],
                                "message": f"the file could not be read: {reason[:500]}"}
                               for agency_id, month, source_path, sha, reason in self.unreadable])
        accounting = [{"return_type": RETURN_TYPE, "agency_id": agency_id, "month": month, "source_file": source_path,
                       "sha256": sha, "file_status": "unreadable", "rows_read": 0, "rows_accepted": 0,
                       "rows_quarantined": 0} for agency_id, month, source_path, sha, _ in self.unreadable]
        quarantine.write(con, accounting=accounting)
        if self.prefix is not None:
            accounting += [{"return_type": RETURN_TYPE, **row} for row in load_stage_outputs(con, self.prefix)]
        return accounting


def _write_text(text: str, uri: str) -> None:
    from pipelines.lib.spark_job import filesystem

    fs, path = filesystem(uri)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as stream:
        stream.write(text.encode("utf-8"))


def _read_json(uri: str) -> dict | None:
    import pyarrow.fs as pafs

    from pipelines.lib.spark_job import filesystem

    fs, path = filesystem(uri)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    with fs.open_input_stream(path) as stream:
        return json.loads(stream.read().decode("utf-8"))


def _write(table, uri: str) -> None:
    """An Arrow table as one Parquet file at a local path or URI (the catalogue snapshot the job stages against)."""
    import pyarrow.parquet as pq

    from pipelines.lib.spark_job import filesystem

    fs, path = filesystem(uri)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    pq.write_table(table, path, filesystem=fs)


def _table(uri: str):
    """A Parquet file or folder of stage outputs as an Arrow table (None: the job wrote none)."""
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    from pipelines.lib.spark_job import filesystem

    fs, path = filesystem(uri)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    return pads.dataset(path, filesystem=fs, format="parquet").to_table()


def load_stage_outputs(con, prefix: str) -> list[dict]:
    """Load one run's stage outputs (aggregates, quarantined rows, accounting, manifest) into the warehouse inside
    the caller's transaction; the accounting rows. The serialised step: the only one that writes the warehouse, so
    it is the only one that needs it."""
    tables = {name: _table(f"{prefix}/{name}") for name in
              ("aggregates", "quarantine", "accounting.parquet", "manifest.parquet", "unreadable.parquet")}
    run_id = prefix.rstrip("/").split("/")[-2]
    if tables["aggregates"] is not None:
        con.register("stage_aggregates", tables["aggregates"])
        con.execute("INSERT INTO stg_extract_transactions BY NAME SELECT * FROM stage_aggregates")
    if tables["quarantine"] is not None:
        con.register("stage_quarantine", tables["quarantine"])
        quarantine.write(con, con.sql("SELECT $return_type AS return_type, * FROM stage_quarantine",
                                      params={"return_type": RETURN_TYPE}))
    if tables["unreadable.parquet"] is not None:
        con.register("stage_unreadable", tables["unreadable.parquet"])
        quarantine.write(con, con.sql(
            "SELECT $return_type AS return_type, agency_id, month, source_file, sha256, NULL AS row_number, "
            "'unreadable_file' AS rule, message AS offending_value, 'the file could not be read: ' || message AS "
            "message FROM stage_unreadable", params={"return_type": RETURN_TYPE}))
    if tables["manifest.parquet"] is not None:
        con.register("stage_manifest", tables["manifest.parquet"])
        con.execute("INSERT INTO extract_manifest BY NAME SELECT *, ? AS run_id FROM stage_manifest", [run_id])
    accounting = []
    if tables["accounting.parquet"] is not None:
        con.register("stage_accounting", tables["accounting.parquet"])
        quarantine.write(con, accounting=con.sql("SELECT $return_type AS return_type, * FROM stage_accounting",
                                                 params={"return_type": RETURN_TYPE}))
        accounting = tables["accounting.parquet"].to_pylist()
    for name in ("stage_aggregates", "stage_quarantine", "stage_unreadable", "stage_manifest", "stage_accounting"):
        con.unregister(name)
    return accounting
