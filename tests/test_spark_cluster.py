"""The extract stage on a real Spark standalone cluster (a master and two workers on loopback, each executor its own
JVM, the workers unable to see the driver's data folder): with spark.storage set, the published KPI files are the
DuckDB engine's byte for byte; with the defaults, the configuration is refused before any run, naming the setting."""

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from benchmarks.generate import generate
from pipelines.lib.config import ConfigError, load_config
from tests.spark_servers import standalone_cluster
from tests.test_spark_extracts import AGGREGATES, query, run


def kpis(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "published").glob("kpi_*"))}


def on_cluster(root: Path, master: str, storage: Path | None) -> None:
    path = root / "config" / "sources.yaml"
    registry = yaml.safe_load(path.read_text(encoding="utf-8"))
    for agency in registry["agencies"]:
        agency["engine"] = "spark"
    registry["spark"] = {"master": master,
                         "conf": {"spark.driver.host": "127.0.0.1", "spark.executor.memory": "512m",
                                  "spark.cores.max": 2, "spark.sql.shuffle.partitions": 2,
                                  "spark.local.dir": str(root.parent / "spark-local")}}
    if storage is not None:
        registry["spark"]["storage"] = str(storage)
    path.write_text(yaml.safe_dump(registry, sort_keys=False), encoding="utf-8")


@pytest.mark.spark
def test_a_standalone_cluster_publishes_the_duckdb_engines_figures_and_the_defaults_are_refused(tmp_path):
    duck, driver, shared = tmp_path / "duckdb", tmp_path / "driver" / "data", tmp_path / "shared"
    generate(duck, 3_000, months=1, rows_per_file=1_000)
    shutil.copytree(duck, driver)
    with standalone_cluster(tmp_path / "cluster", hidden=tmp_path / "driver") as master:
        on_cluster(driver, master, storage=None)
        with pytest.raises(ConfigError) as caught:
            load_config(driver / "config")
        assert [str(p) for p in caught.value.problems] == [
            f"{driver / 'config' / 'sources.yaml'}: spark, key 'storage': must be set when Spark runs on a cluster "
            f"(master {master}): by default the run's extract inputs and outputs are under the data folder on the "
            "run worker's disk, which executors on other machines cannot read; set a folder every executor mounts "
            "at the same path, or an object-store URI (s3a://, gs://, abfss://)"]
        on_cluster(driver, master, storage=shared)
        (duck_result, _), (cluster_result, logs) = run(duck), run(driver)
    assert duck_result.success and cluster_result.success, logs[-20:]
    assert query(driver, AGGREGATES) == query(duck, AGGREGATES)
    assert kpis(driver) == kpis(duck) and "kpi_processing_time.parquet" in kpis(duck)
    job = next(e.materialization.metadata for e in cluster_result.get_asset_materialization_events()
               if e.asset_key.to_user_string() == "stg_extract_spark_outputs")
    assert job["spark_master"].value == master and job["spark_rows_read"].value == 3_000
