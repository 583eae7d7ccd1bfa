"""The ways of computing the same figures from the same extract files, measured by benchmarks/run.py.

    python -m benchmarks.paths pipeline|spark|spark-cluster|floor|polars|pandas <data folder> <figures.parquet>
                               [--start/--end ...]

Each writes its figures (service_id, month, channel, transactions_started, transactions_completed,
time_to_complete_median_seconds, time_to_complete_p90_seconds; channel 'all' for the whole service) to a Parquet
file, and prints one JSON line of its own timings. Run one per process, so each one's peak memory is its own.

- pipeline: the pipeline itself through Dagster (in-process executor, an ephemeral instance, the terminal logging
  of `make run`: warnings and errors): every asset upstream of pub_open_data and every check on them, from the
  landed files to the published KPI tables, whose figures (kpi_completion_rate, kpi_processing_time) are read back
  from data/published/.
- spark: the same pipeline with every extract agency's registry entry set to `engine: spark`: the extract stage
  runs on Spark (master $BENCH_SPARK_MASTER, default local[2]) through Dagster Pipes, the rest as in `pipeline`.
- spark-cluster: `spark` on a standalone cluster this path starts on 127.0.0.1 from the pyspark package (a master and
  two workers of 1 core and 1 GB, each executor a JVM of its own, none able to see the data folder:
  tests/spark_servers.py), with spark.storage (archive, Spark inputs and outputs) in <data folder>-storage/ beside it.
- floor: one hand-written DuckDB query over the landed files: the least work that computes these figures.
- polars: the same aggregates in Polars, lazy and on its streaming engine: the peer a user would pick.
- pandas: the same aggregates in pandas, the usual alternative (the caller skips it when it cannot fit in memory).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

FIGURES = ["service_id", "month", "channel", "transactions_started", "transactions_completed",
           "time_to_complete_median_seconds", "time_to_complete_p90_seconds"]

FLOOR = """
SELECT
    service_id,
    CAST(date_trunc('month', started_at) AS DATE) AS month,
    coalesce(channel, 'all') AS channel,
    count(*) AS transactions_started,
    count(completed_at) AS transactions_completed,
    quantile_cont(CAST(date_diff('second', started_at, completed_at) AS INTEGER), [0.5, 0.9]) AS quantiles
FROM read_parquet($files)
GROUP BY GROUPING SETS ((service_id, month, channel), (service_id, month))
"""


def extract_files(data_dir: Path) -> list[str]:
    return sorted(str(p) for p in (data_dir / "landing").glob("*/*/extract-*.parquet"))


def floor(data_dir: Path, out: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"COPY (SELECT * EXCLUDE (quantiles), quantiles[1] AS time_to_complete_median_seconds, "
                f"quantiles[2] AS time_to_complete_p90_seconds FROM ({FLOOR})) TO '{out}' (FORMAT parquet)",
                {"files": extract_files(data_dir)})
    return {}


def pandas_path(data_dir: Path, out: Path) -> dict:
    import pandas as pd

    frame = pd.concat([pd.read_parquet(f, columns=["service_id", "channel", "started_at", "completed_at"])
                       for f in extract_files(data_dir)], ignore_index=True)
    frame["month"] = frame["started_at"].dt.to_period("M").dt.start_time.dt.date
    frame["seconds"] = (frame["completed_at"].dt.floor("s") - frame["started_at"].dt.floor("s")).dt.total_seconds()
    parts = []
    for keys in (["service_id", "month", "channel"], ["service_id", "month"]):
        grouped = frame.groupby(keys, observed=True)
        part = pd.DataFrame({
            "transactions_started": grouped.size(),
            "transactions_completed": grouped["completed_at"].count(),
            "time_to_complete_median_seconds": grouped["seconds"].quantile(0.5),
            "time_to_complete_p90_seconds": grouped["seconds"].quantile(0.9),
        }).reset_index()
        parts.append(part if "channel" in keys else part.assign(channel="all"))
    pd.concat(parts)[FIGURES].to_parquet(out, index=False)
    return {}


def polars_path(data_dir: Path, out: Path) -> dict:
    import polars as pl

    rows = pl.scan_parquet(extract_files(data_dir)).select(
        "service_id", "channel", "completed_at",
        month=pl.col("started_at").dt.truncate("1mo").dt.date(),
        seconds=(pl.col("completed_at").dt.truncate("1s") - pl.col("started_at").dt.truncate("1s"))
        .dt.total_seconds().cast(pl.Float64))
    aggregates = [pl.len().alias("transactions_started"),
                  pl.col("completed_at").count().alias("transactions_completed"),
                  pl.col("seconds").quantile(0.5, "linear").alias("time_to_complete_median_seconds"),
                  pl.col("seconds").quantile(0.9, "linear").alias("time_to_complete_p90_seconds")]
    by_channel = rows.group_by("service_id", "month", "channel").agg(aggregates)
    by_service = rows.group_by("service_id", "month").agg(aggregates).with_columns(channel=pl.lit("all"))
    pl.concat([by_channel, by_service], how="diagonal").select(FIGURES).sink_parquet(out, engine="streaming")
    return {}


def suite_seconds(logs) -> dict[str, float]:
    """table -> the seconds of its suite, run in the table's own step: from the table's materialisation to its
    check's evaluation (from the step's start when the check ran alone)."""
    started, seconds = {}, {}
    for log in logs:
        event = log.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value in ("STEP_START", "ASSET_MATERIALIZATION"):
            started[event.step_key] = log.timestamp
        elif event.event_type_value == "ASSET_CHECK_EVALUATION" and \
                event.step_key == event.event_specific_data.asset_key.to_user_string():  # not a check's own step
            seconds[event.step_key] = log.timestamp - started[event.step_key]
    return seconds


def pipeline(data_dir: Path, out: Path, start: str, end: str, config_dir: Path | None = None) -> dict:
    """The whole path through Dagster (the configuration in `config_dir`, default data_dir/config); returns the
    run's own seconds, its steps' and its checks' seconds."""
    import dagster as dg
    import duckdb

    from pipelines.definitions import assets, checks
    from pipelines.lib.resources import DataStore, Settings
    from pipelines.lib.warehouse import held
    from pipelines.run import QUIET  # the terminal output of `make run`: warnings and errors (every event is stored)

    store = DataStore(data_dir=str(data_dir))
    instance = dg.DagsterInstance.ephemeral()
    started = time.monotonic()
    with held(store.warehouse):  # as `make run` holds it: attached from the first step to the last
        result = dg.materialize(
            [*assets, *checks],
            resources={"store": store, "settings": Settings(config_dir=str(config_dir or data_dir / "config"))},
            instance=instance,
            selection=dg.AssetSelection.assets("pub_open_data").upstream(), run_config=QUIET,
            tags={"dagster/asset_partition_range_start": f"{start}-01",
                  "dagster/asset_partition_range_end": f"{end}-01"},
            raise_on_error=False)
    run_seconds = time.monotonic() - started
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    not_passed = [f"{c.asset_key.to_user_string()}:{c.check_name}" for c in result.get_asset_check_evaluations()
                  if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    if failed or not_passed:
        raise SystemExit(f"pipeline run failed: steps {failed}, blocking checks {not_passed}")
    steps = {e.step_key: e.event_specific_data.duration_ms / 1000 for e in result.all_events if e.is_step_success}
    check_steps = {f"{c.asset_key.to_user_string()}_{c.check_name}" for c in result.get_asset_check_evaluations()}
    suites = suite_seconds(instance.all_logs(result.run_id))
    extract = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                   if e.asset_key.to_user_string() == "stg_extract_transactions")
    job = next((e.materialization.metadata for e in result.get_asset_materialization_events()  # engine spark's
                if e.asset_key.to_user_string() == "stg_extract_spark_outputs"), {})
    gates = extract["gate_seconds"].value
    duckdb.connect().execute(
        f"COPY (SELECT rate.service_id, rate.month, rate.channel, rate.transactions_started, "
        f"rate.transactions_completed, time.time_to_complete_median_seconds, time.time_to_complete_p90_seconds "
        f"FROM read_parquet($rate) AS rate JOIN read_parquet($time) AS time USING (service_id, month, channel)) "
        f"TO '{out}' (FORMAT parquet)",
        {"rate": str(store.published / "kpi_completion_rate.parquet"),
         "time": str(store.published / "kpi_processing_time.parquet")})
    return {"run_seconds": run_seconds, "gate_seconds": gates,
            "check_step_seconds": sum(s for k, s in steps.items() if k in check_steps) + sum(suites.values()),
            "suite_seconds": suites,
            "extract_step_seconds": sum(steps.get(step, 0.0) for step in (  # with engine spark, three steps
                "stg_extract_spark_inputs", "stg_extract_spark_outputs", "stg_extract_transactions")),
            "aggregation_seconds": extract["aggregation_seconds"].value, "rows_read": extract["rows_read"].value,
            "steps": len(steps), "step_seconds": dict(sorted(steps.items(), key=lambda step: -step[1])),
            "ids_ascending": extract["agency_months_ids_ascending"].value,
            **{key: value.value for key, value in job.items()
               if key.startswith("spark_") and key.endswith("seconds")}}


def spark_pipeline(data_dir: Path, out: Path, start: str, end: str, master: str | None = None,
                   storage: Path | None = None, conf: dict | None = None) -> dict:
    """The pipeline with the extract agencies on Spark: their registry (data_dir/config) copied to
    data_dir/config-spark with `engine: spark`, the Spark master, `storage` and more `conf`, then the same run as
    `pipeline`."""
    import shutil

    import yaml

    config = data_dir / "config-spark"
    shutil.rmtree(config, ignore_errors=True)
    shutil.copytree(data_dir / "config", config)
    registry = yaml.safe_load((config / "sources.yaml").read_text(encoding="utf-8"))
    for agency in registry["agencies"]:
        agency["engine"] = "spark"
    master = master or os.environ.get("BENCH_SPARK_MASTER", "local[2]")
    registry["spark"] = {"master": master, "conf": {"spark.driver.memory": "2g", "spark.driver.host": "127.0.0.1",
                                                    **(conf or {})},
                         **({"storage": str(storage)} if storage else {})}
    (config / "sources.yaml").write_text(yaml.safe_dump(registry, sort_keys=False), encoding="utf-8")
    return {"spark_master": master, **pipeline(data_dir, out, start, end, config)}


def cluster_pipeline(data_dir: Path, out: Path, start: str, end: str) -> dict:
    """`spark_pipeline` on a standalone cluster started here (its start-up timed apart) and stopped after."""
    from tests.spark_servers import standalone_cluster

    storage = data_dir.with_name(f"{data_dir.name}-storage")
    started = time.monotonic()
    with standalone_cluster(data_dir.with_name(f"{data_dir.name}-cluster"), hidden=data_dir) as master:
        cluster_seconds = time.monotonic() - started
        timings = spark_pipeline(data_dir, out, start, end, master, storage,  # an executor within a 1 GB worker
                                 {"spark.executor.memory": "512m"})
    return {**timings, "spark_master": "standalone: 2 workers x 1 core", "cluster_start_seconds": cluster_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["pipeline", "spark", "spark-cluster", "floor", "polars", "pandas"])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--start")
    parser.add_argument("--end")
    args = parser.parse_args()
    started = time.monotonic()
    if args.path == "pipeline":
        timings = pipeline(args.data_dir.resolve(), args.out, args.start, args.end)
    elif args.path == "spark":
        timings = spark_pipeline(args.data_dir.resolve(), args.out, args.start, args.end)
    elif args.path == "spark-cluster":
        timings = cluster_pipeline(args.data_dir.resolve(), args.out, args.start, args.end)
    else:
        path = {"floor": floor, "polars": polars_path, "pandas": pandas_path}[args.path]
        timings = path(args.data_dir.resolve(), args.out)
    print(json.dumps({"seconds_in_process": time.monotonic() - started, **timings}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
