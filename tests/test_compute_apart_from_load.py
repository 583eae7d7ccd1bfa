"""Compute apart from load: the Spark job's step holds no `warehouse` pool slot, so while it runs another run's
warehouse step starts and finishes; the runs' own event timestamps prove the overlap."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from benchmarks.generate import generate
from pipelines.definitions import assets, checks
from pipelines.defs.staging.extracts import (stg_extract_spark_inputs, stg_extract_spark_outputs,
                                             stg_extract_transactions)
from pipelines.lib.faults import HOLD_ENV
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from tests.operations import PROCESS_SECONDS, REPO, one_slot_pool_home

DEFS = """
import dagster as dg
from pipelines.definitions import assets
from pipelines.lib.resources import DataStore, Settings

STEPS = {"stg_extract_spark_inputs", "stg_extract_spark_outputs", "stg_extract_transactions", "stg_service_catalogue"}
chosen = [a for a in assets if a.key.to_user_string() in STEPS]
defs = dg.Definitions(
    assets=chosen,
    jobs=[dg.define_asset_job("spark_run", executor_def=dg.multiprocess_executor,
                              selection=["stg_extract_spark_inputs", "stg_extract_spark_outputs",
                                         "stg_extract_transactions"]),
          dg.define_asset_job("catalogue_run", selection=["stg_service_catalogue"],
                              executor_def=dg.multiprocess_executor)],
    resources={"store": DataStore(data_dir=DATA), "settings": Settings(config_dir=DATA + "/config")},
)
"""
EVENT = dg.DagsterEventType


def wait_for(path: Path, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + PROCESS_SECONDS  # only turns a hang into a failure
    while not path.exists():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.5)


@pytest.mark.spark
def test_another_runs_warehouse_step_completes_while_the_spark_job_step_runs(tmp_path):
    assert stg_extract_spark_outputs.op.pool is None
    assert stg_extract_spark_inputs.op.pool == stg_extract_transactions.op.pool == WAREHOUSE_POOL
    root = tmp_path / "data"
    generate(root, 2_000, months=1, rows_per_file=1_000)
    registry_path = root / "config" / "sources.yaml"
    registry = yaml.safe_load(registry_path.read_text(encoding="utf-8"))
    for agency in registry["agencies"]:
        if agency["id"] == "licensing":
            agency["engine"] = "spark"
    registry["spark"] = {"master": "local[1]", "storage": str(tmp_path / "shared"),
                         "conf": {"spark.sql.shuffle.partitions": 1, "spark.driver.host": "127.0.0.1",
                                  "spark.local.dir": str(tmp_path / "spark-local")}}
    registry_path.write_text(yaml.safe_dump(registry, sort_keys=False), encoding="utf-8")
    store = DataStore(data_dir=str(root))
    setup = dg.materialize([*assets, *checks], resources={"store": store, "settings": Settings(config_dir=str(
                               root / "config"))}, instance=dg.DagsterInstance.ephemeral(),
                           selection=dg.AssetSelection.assets("raw_agency_returns", "stg_service_catalogue").upstream()
                           .without_checks(),
                           tags={"dagster/asset_partition_range_start": "2025-01-01",
                                 "dagster/asset_partition_range_end": "2025-01-01"}, raise_on_error=False)
    assert setup.success

    home = one_slot_pool_home(tmp_path / "dagster_home")
    code = tmp_path / "apart_defs.py"
    code.write_text(f"DATA = {str(root)!r}\n" + DEFS, encoding="utf-8")
    release = tmp_path / "release"
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO), HOLD_ENV: f"spark_compute:{release}"}

    def launch(job: str, log: Path, tags: dict) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "dagster", "job", "execute", "-f", str(code), "-j", job,
                                 "--tags", json.dumps(tags)], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)

    logs = {name: tmp_path / f"{name}.log" for name in ("spark", "catalogue")}
    spark = launch("spark_run", logs["spark"], {"dagster/partition": "2025-01-01"})
    try:
        wait_for(Path(f"{release}.reached"), spark, logs["spark"])  # the Spark job's step is under way, and waits
        catalogue = launch("catalogue_run", logs["catalogue"], {})
        assert catalogue.wait(timeout=PROCESS_SECONDS) == 0, logs["catalogue"].read_text()[-3000:]
        release.touch()
        assert spark.wait(timeout=PROCESS_SECONDS) == 0, logs["spark"].read_text()[-3000:]
    finally:
        release.touch()
        for process in (spark, locals().get("catalogue")):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        times = {}
        for record in instance.get_run_records():
            assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
            for entry in instance.all_logs(record.dagster_run.run_id):
                if entry.dagster_event and entry.dagster_event.step_key:
                    times[(entry.dagster_event.step_key, entry.dagster_event.event_type)] = entry.timestamp
    compute = (times[("stg_extract_spark_outputs", EVENT.STEP_START)],
               times[("stg_extract_spark_outputs", EVENT.STEP_SUCCESS)])
    other = (times[("stg_service_catalogue", EVENT.STEP_START)], times[("stg_service_catalogue", EVENT.STEP_SUCCESS)])
    assert compute[0] < other[0] and other[1] < compute[1]  # the other run's warehouse step, inside the job's step
    assert times[("stg_extract_transactions", EVENT.STEP_SUCCESS)] > compute[1]  # the load came after the job
