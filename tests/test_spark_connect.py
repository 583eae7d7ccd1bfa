"""Spark Connect from the run worker: a token read from the variable token_env names (unset: an error naming it),
TLS as Spark Connect's client decides it (a mismatch: an error within a bounded wait, not a hang), conf values as
written in YAML, the settings Connect ignores named at start, and Spark's errors summarised in one line."""

import os
import subprocess
import sys

import dagster as dg
import pytest
import yaml

from benchmarks.generate import generate
from pipelines.definitions import assets
from pipelines.lib.config import load_config
from pipelines.lib.resources import DataStore, Settings
from pipelines.lib.spark_job import SparkSettingsError, reach_connect, spark_session, summary
from tests.operations import REPO
from tests.spark_servers import connect_server

TOKEN = "t26-connect-token"


class Recorded:
    """A log that keeps what it is given (the Pipes log's warning method)."""

    def __init__(self):
        self.warnings = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def test_an_unset_token_variable_is_named_before_any_connection(monkeypatch):
    monkeypatch.delenv("T26_UNSET_TOKEN", raising=False)
    with pytest.raises(SparkSettingsError) as caught:
        spark_session({"remote": "sc://localhost:15002", "token_env": "T26_UNSET_TOKEN"})
    assert str(caught.value) == (
        "spark.token_env names the environment variable T26_UNSET_TOKEN, which is not set where the run runs: set "
        "T26_UNSET_TOKEN to the Spark Connect token, or remove token_env for a server that takes no token")


def test_conf_values_are_taken_as_written_in_yaml(tmp_path):
    generate(tmp_path, 10, months=1)
    path = tmp_path / "config" / "sources.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "spark:\n  conf:\n    spark.sql.shuffle.partitions: 400\n"
                    "    spark.sql.adaptive.enabled: true\n    spark.memory.fraction: 0.5\n"
                    "    spark.executor.memory: 8g\n", encoding="utf-8")
    assert load_config(tmp_path / "config").registry.spark.conf == {
        "spark.sql.shuffle.partitions": "400", "spark.sql.adaptive.enabled": "true", "spark.memory.fraction": "0.5",
        "spark.executor.memory": "8g"}


def test_a_cluster_error_is_summarised_by_its_first_cause_its_file_and_the_fix():
    """The shape of Spark's error when executors cannot see the driver's disk: the wrapper first, the cause far below
    (here 1 line below, 140 in the real one)."""
    error = RuntimeError(
        "An error occurred while calling o92.parquet.\norg.apache.spark.SparkException: Job aborted due to stage "
        "failure: Task 0 in stage 3.0 failed 4 times: Could not read footer for file: "
        "file:/nfs/data/archive/customs/2025-01/extract-000.parquet. check if it is corrupt\n"
        "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2935)\n"
        "Caused by: java.io.FileNotFoundException: File file:/nfs/data/archive/customs/2025-01/extract-000.parquet "
        "does not exist\n\tat org.apache.hadoop.fs.RawLocalFileSystem.getFileStatus(RawLocalFileSystem.java:915)")
    assert summary(error, {"master": "spark://10.0.0.5:7077"}) == (
        "FileNotFoundException: File file:/nfs/data/archive/customs/2025-01/extract-000.parquet does not exist (file "
        "file:/nfs/data/archive/customs/2025-01/extract-000.parquet); fix: the executors cannot see this path on the "
        "run worker's disk: set spark.storage in sources.yaml to a folder every executor mounts at the same path, or "
        "an object-store URI")


def test_the_step_failure_message_says_why_the_spark_job_failed(tmp_path, monkeypatch):
    """Through Dagster Pipes, the job's reason is the step's failure message (it was "External execution process
    failed with code 1", the reason only in a debug event)."""
    monkeypatch.delenv("T26_UNSET_TOKEN", raising=False)
    generate(tmp_path, 200, months=1)
    path = tmp_path / "config" / "sources.yaml"
    registry = yaml.safe_load(path.read_text(encoding="utf-8"))
    for agency in registry["agencies"]:
        agency["engine"] = "spark"
    registry["spark"] = {"remote": "sc://localhost:15002", "token_env": "T26_UNSET_TOKEN",
                         "storage": str(tmp_path / "shared")}
    path.write_text(yaml.safe_dump(registry, sort_keys=False), encoding="utf-8")
    result = dg.materialize(
        assets, selection=dg.AssetSelection.assets("stg_extract_spark_outputs").upstream(), raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
        resources={"store": DataStore(data_dir=str(tmp_path)),
                   "settings": Settings(config_dir=str(tmp_path / "config"))},
        tags={"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": "2025-01-01"})
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_key == "stg_extract_spark_outputs"
    assert failure.event_specific_data.error.message.splitlines()[0].endswith(
        "the Spark job failed: spark.token_env names the environment variable T26_UNSET_TOKEN, which is not set "
        "where the run runs: set T26_UNSET_TOKEN to the Spark Connect token, or remove token_env for a server that "
        "takes no token")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with connect_server(tmp_path_factory.mktemp("connect"), token=TOKEN) as port:
        yield port


@pytest.mark.spark
def test_a_tls_mismatch_is_an_error_naming_it_not_a_hang(server, monkeypatch):
    """To an address other than localhost a token makes the client use TLS; this server has none."""
    monkeypatch.setenv("T26_TOKEN", TOKEN)
    with pytest.raises(SparkSettingsError) as caught:
        reach_connect(f"sc://127.0.0.1:{server}/;token={TOKEN}", seconds=30)
    assert str(caught.value) == (
        f"spark.remote: the server at 127.0.0.1:{server} accepts connections but no Spark Connect channel opened "
        "within 30 s: the client uses TLS (spark.token_env is set, and Spark Connect's client sends a token only over "
        "TLS (but to the host name localhost)) and the server, it seems, does not. Make them match: serve Connect "
        "with TLS (or behind a proxy that terminates it) when a token is used, or connect without one")


@pytest.mark.spark
def test_a_session_with_a_token_its_conf_and_the_settings_connect_ignores(server, monkeypatch):
    monkeypatch.setenv("T26_TOKEN", TOKEN)
    # PySpark marks the process as Connect's by this variable when a Connect session is made, and every process the
    # test process starts afterwards would inherit it: set here, it is taken away again when the test ends
    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")
    log = Recorded()
    settings = {"remote": f"sc://localhost:{server}", "token_env": "T26_TOKEN", "master": "spark://elsewhere:7077",
                "conf": {"spark.sql.shuffle.partitions": "3", "spark.executor.memory": "8g"}}
    spark = spark_session(settings, log)
    try:
        assert spark.range(5).count() == 5
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
        assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
        assert log.warnings == ["Spark Connect ignores these settings of spark: in sources.yaml (the server's own "
                                "apply): master, conf spark.executor.memory"]
        with pytest.raises(Exception) as caught:  # a file the server cannot see
            spark.read.parquet("file:///t26-nowhere/extract-000.parquet").count()
        assert summary(caught.value, settings) == (
            "AnalysisException: [PATH_NOT_FOUND] Path does not exist: file:/t26-nowhere/extract-000.parquet. "
            "SQLSTATE: 42K03 (file file:/t26-nowhere/extract-000.parquet); fix: the executors cannot see this path on "
            "the run worker's disk: set spark.storage in sources.yaml to a folder every executor mounts at the same "
            "path, or an object-store URI")
    finally:
        spark.stop()


@pytest.mark.spark
def test_a_classic_session_in_a_process_that_inherited_connect_mode_from_its_parent():
    """A process started by one that made a Connect session inherits PySpark's mark of Connect mode; a run's classic
    session (spark.master, no remote) must still start, not ask for a Connect address."""
    job = ("from pipelines.lib.spark_job import spark_session\n"
           "spark = spark_session({'master': 'local[1]'})\nprint(spark.range(3).count())\nspark.stop()")
    done = subprocess.run([sys.executable, "-c", job], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "SPARK_CONNECT_MODE_ENABLED": "1"})
    assert (done.returncode, done.stdout.strip().splitlines()[-1:]) == (0, ["3"]), done.stderr[-2000:]
