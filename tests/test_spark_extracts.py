"""The extract stage on Spark (local[2], through Dagster Pipes) gives the DuckDB path's figures, quarantine and
published KPI files exactly, from archived files and from Parquet folders where the extracts live (file:// URIs)."""

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from benchmarks.generate import generate
from pipelines.definitions import assets, checks
from pipelines.defs.staging.extract_engines import load_stage_outputs
from pipelines.defs.staging.extracts import RETURN_TYPE
from pipelines.lib.config import PROJECT_CONFIG_DIR, ConfigError, load_config
from pipelines.lib.resources import DataStore, Settings

MONTH = "2025-01"
# Small data: compiling whole-stage code costs Spark more than it saves here (the benchmark keeps Spark's default).
SPARK = {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "2", "spark.sql.codegen.wholeStage": "false",
                                        "spark.driver.host": "127.0.0.1"}}

# Seeded bad rows beside clean generated extracts (customs: 4,200 rows in three files, licensing 1,800 in two).
# CUS-009 and LIC-009 have no online channel; CUS-202501-0000000001 is also a generated row's id (its copy here
# differs, so both are set aside).
SEEDED = [  # (transaction_id, service_id, channel, started_at, completed_at, outcome)
    ("S-1", "CUS-001", "online", "2025-01-02 10:00:00", "2025-01-02 11:00:00", "completed"),        # kept
    ("S-1", "CUS-001", "online", "2025-01-02 10:00:00", "2025-01-02 11:00:00", "completed"),        # duplicate_row
    ("S-3", "CUS-001", "online", "2025-01-08 10:00:00", None, "abandoned"),                         # conflicting
    ("S-3", "CUS-001", "phone", "2025-01-08 10:00:00", None, "abandoned"),                          # conflicting
    ("CUS-202501-0000000001", "CUS-002", "paper", "2025-01-09 10:00:00", None, "in_progress"),      # conflicting
    ("S-6", "XXX-999", "online", "2025-01-02 10:00:00", None, "abandoned"),                         # unknown_service
    ("S-7", "LIC-001", "online", "2025-01-02 10:00:00", None, "abandoned"),                         # another agency's
    ("S-8", "CUS-001", "fax", "2025-01-02 10:00:00", None, "abandoned"),                            # unknown_channel
    ("S-9", "CUS-009", "online", "2025-01-02 10:00:00", None, "abandoned"),                         # not offered
    ("S-10", "CUS-001", "online", "2025-02-01 00:00:00", None, "abandoned"),                        # outside month
    ("S-11", "CUS-001", "online", "2025-01-05 10:00:00", "2025-01-05 09:00:00", "completed"),       # before started
    ("S-12", "CUS-001", "online", "2025-01-05 10:00:00", None, "lost"),                             # unknown_outcome
    ("S-13", "CUS-001", "online", "2025-01-05 10:00:00", "2025-01-06 10:00:00", "abandoned"),       # contradicts
    ("S-14", "CUS-002", "online", "2025-01-03 10:00:00.9", "2025-01-03 10:00:01.1", "completed"),   # kept: 1 s
    ("S-15", "CUS-002", "online", "2025-01-03 23:59:59.999999", "2025-01-04 00:00:00", "completed"),  # kept: 1 s
]
# Timestamps sent as text (as a CSV-born file has them): a type that differs between files is read as text.
TEXT = [
    ("S-20", "CUS-001", "online", "yesterday", None, "abandoned"),                                 # not a timestamp
    ("S-21", "CUS-001", "online", "2025-01-03 10:00:00", "2025-02-30 10:00:00", "completed"),      # impossible date
    ("S-22", None, "online", "2025-01-03 10:00:00", None, "abandoned"),                            # required value
    ("S-23", "CUS-001", "online", "2025-01-04 10:00:00", "2025-01-04 12:30:00", "completed"),      # kept
]
LICENSING = [
    ("L-1", "LIC-001", "online", "2025-01-02 10:00:00", "2025-01-02 10:20:00.5", "completed"),      # kept: 1,200 s
    ("L-1", "LIC-001", "online", "2025-01-02 10:00:00", "2025-01-02 10:20:00.5", "completed"),      # duplicate_row
    ("L-3", "CUS-001", "online", "2025-01-02 10:00:00", None, "abandoned"),                         # another agency's
    ("L-4", "LIC-009", "online", "2025-01-02 10:00:00", None, "abandoned"),                         # not offered
    ("L-5", "LIC-002", "phone", "2024-12-31 23:59:59", None, "abandoned"),                          # outside month
]
EXPECTED_RULES = {
    "duplicate_row": 2, "conflicting_duplicate": 4, "unknown_service": 1, "service_of_another_agency": 2,
    "unknown_channel": 1, "channel_not_offered": 2, "month_outside_return_period": 2, "completed_before_started": 1,
    "unknown_outcome": 1, "outcome_contradicts_completion": 1, "not_a_timestamp": 2, "required_value_missing": 1,
}
QUARANTINED = sum(EXPECTED_RULES.values())  # 20 rows, of 6,024 read


def write_rows(path: Path, rows: list[tuple], timestamp_type: str) -> None:
    values = ", ".join(f"({', '.join('NULL' if v is None else repr(v) for v in row)})" for row in rows)
    duckdb.connect().execute(
        f"COPY (SELECT col0 AS transaction_id, col1 AS service_id, col2 AS channel, "
        f"CAST(col3 AS {timestamp_type}) AS started_at, CAST(col4 AS {timestamp_type}) AS completed_at, "
        f"col5 AS outcome FROM (VALUES {values})) TO '{path}' (FORMAT parquet)")


def set_registry(root: Path, entries: dict[str, dict]) -> None:
    path = root / "config" / "sources.yaml"
    registry = yaml.safe_load(path.read_text(encoding="utf-8"))
    for agency in registry["agencies"]:
        agency.update(entries.get(agency["id"], {}))
    registry["spark"] = {**SPARK, "conf": {**SPARK["conf"], "spark.local.dir": str(root / "spark-local")},
                         "storage": str(root.parent / "shared")}  # a folder every executor would mount
    path.write_text(yaml.safe_dump(registry, sort_keys=False), encoding="utf-8")


def run(root: Path) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """The run to the published files; its result and the messages its log holds (the Spark job's among them)."""
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [*assets, *checks], instance=instance, selection=dg.AssetSelection.assets("pub_open_data").upstream(),
        resources={"store": DataStore(data_dir=str(root)), "settings": Settings(config_dir=str(root / "config"))},
        tags={"dagster/asset_partition_range_start": f"{MONTH}-01", "dagster/asset_partition_range_end": f"{MONTH}-01"},
        raise_on_error=False)
    return result, [entry.user_message for entry in instance.all_logs(result.run_id)]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The same extracts through DuckDB (landed and archived) and through Spark: licensing's from the archive,
    customs' read from a Parquet folder where they live (file:// URIs; one more file there is not Parquet)."""
    base = tmp_path_factory.mktemp("engines")
    duck, spark, lake = base / "duckdb", base / "spark", base / "lake"
    generate(duck, 6_000, months=1, rows_per_file=1_500)
    write_rows(duck / "landing" / "customs" / MONTH / "extract-seeded.parquet", SEEDED, "TIMESTAMP")
    write_rows(duck / "landing" / "customs" / MONTH / "extract-text.parquet", TEXT, "VARCHAR")
    write_rows(duck / "landing" / "licensing" / MONTH / "extract-seeded.parquet", LICENSING, "TIMESTAMP")
    shutil.copytree(duck, spark)
    (lake / "customs").mkdir(parents=True)
    shutil.move(spark / "landing" / "customs" / MONTH, lake / "customs" / MONTH)
    (lake / "customs" / MONTH / "extract-broken.parquet").write_bytes(b"PAR1 this is not a parquet file")
    set_registry(spark, {"customs": {"engine": "spark", "extract_location": f"{lake.as_uri()}/customs/{{month}}"},
                         "licensing": {"engine": "spark"}})
    return {"duckdb": (duck, *run(duck)), "spark": (spark, *run(spark)), "lake": lake}


def query(root: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


AGGREGATES = "SELECT * FROM stg_extract_transactions ORDER BY ALL"
QUARANTINE = ("SELECT agency_id, source_file, row_number, rule, column_name, offending_value, message FROM quarantine "
              f"WHERE return_type = '{RETURN_TYPE}' ORDER BY ALL")
ACCOUNTING = ("SELECT agency_id, source_file, sha256, file_status, rows_read, rows_accepted, rows_quarantined "
              f"FROM submission_accounting WHERE return_type = '{RETURN_TYPE}' ORDER BY ALL")


def by_name(rows: list[tuple]) -> list[tuple]:
    """Rows with their file named by its name alone (a landed path on one side, a file:// URI on the other)."""
    return sorted((agency, Path(file).name, *rest) for agency, file, *rest in rows)


@pytest.mark.spark
def test_both_runs_succeed_and_spark_reports_through_pipes(built):
    (_, duck, _), (_, spark, logs) = built["duckdb"], built["spark"]
    assert duck.success and spark.success
    metadata = {name: next(e.materialization.metadata for e in result.get_asset_materialization_events()
                           if e.asset_key.to_user_string() == "stg_extract_transactions")
                for name, result in (("duckdb", duck), ("spark", spark))}
    job = next(e.materialization.metadata for e in spark.get_asset_materialization_events()
               if e.asset_key.to_user_string() == "stg_extract_spark_outputs")  # the job's own, through Pipes
    assert "engine" not in metadata["duckdb"] and "engine" not in metadata["spark"]
    assert job["engine"].value == "spark" and job["spark_master"].value == "local[2]"
    assert (job["spark_rows_read"].value, job["spark_rows_accepted"].value,
            job["spark_rows_quarantined"].value) == (6_024, 6_024 - QUARANTINED, QUARANTINED)
    for name in ("rows_read", "rows_accepted", "rows_quarantined"):
        assert metadata["spark"][name].value == metadata["duckdb"][name].value
    assert metadata["spark"]["files_unreadable"].value == 1 and metadata["duckdb"]["files_unreadable"].value == 0
    assert "customs 2025-01: 4,219 rows read from 5 file(s), 16 quarantined" in logs
    assert "licensing 2025-01: 1,805 rows read from 3 file(s), 4 quarantined" in logs


@pytest.mark.spark
def test_the_aggregates_are_identical_to_the_last_bit(built):
    duck = query(built["duckdb"][0], AGGREGATES)
    assert query(built["spark"][0], AGGREGATES) == duck
    offered = query(built["duckdb"][0], "SELECT count(*) + count(DISTINCT service_id) FROM "
                                        "(SELECT service_id, unnest(channels_offered) FROM stg_service_catalogue)")
    assert len(duck) == offered[0][0]
    clean = duckdb.connect().execute(
        "SELECT count(*), count(completed_at) FROM read_parquet(?) WHERE service_id = 'CUS-002' AND channel = "
        "'online'", [[str(p) for p in built["lake"].glob("customs/*/extract-00*.parquet")]]).fetchone()
    cus_002_online = next(row for row in duck if row[1] == "CUS-002" and row[3] == "online")
    assert cus_002_online[4:6] == (clean[0] + 2, clean[1] + 2)  # S-14 and S-15


@pytest.mark.spark
def test_the_quarantine_rows_are_identical(built):
    duck, spark = query(built["duckdb"][0], QUARANTINE), query(built["spark"][0], QUARANTINE)
    assert [row for row in spark if row[0] == "licensing"] == [row for row in duck if row[0] == "licensing"]
    assert [row[1] for row in spark if row[0] == "licensing"][0] == "licensing/2025-01/extract-seeded.parquet"
    broken = [row for row in spark if row[3] == "unreadable_file"]
    assert [row[:5] for row in broken] == [("customs", (built["lake"] / "customs" / MONTH /
                                            "extract-broken.parquet").as_uri(), None, "unreadable_file", None)]
    assert by_name([row for row in spark if row not in broken]) == by_name(duck)
    rules = {}
    for row in duck:
        rules[row[3]] = rules.get(row[3], 0) + 1
    assert rules == EXPECTED_RULES
    assert ("customs", "customs/2025-01/extract-text.parquet", 2, "not_a_timestamp", "completed_at",
            "2025-02-30 10:00:00", "transaction S-21: completed_at is not a timestamp (YYYY-MM-DD hh:mm:ss)") in duck


@pytest.mark.spark
def test_every_file_is_accounted_for_the_same_way(built):
    duck, spark = query(built["duckdb"][0], ACCOUNTING), query(built["spark"][0], ACCOUNTING)
    broken = [row for row in spark if row[3] == "unreadable"]
    assert [row[3:] for row in broken] == [("unreadable", 0, 0, 0)]
    assert by_name([row for row in spark if row not in broken]) == by_name(duck)
    assert sum(row[4] for row in duck) == 6_024 and sum(row[6] for row in duck) == QUARANTINED


@pytest.mark.spark
def test_published_kpi_files_are_byte_identical(built):
    def kpis(root: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((root / "published").glob("kpi_*"))}

    duck = kpis(built["duckdb"][0])
    assert {"kpi_processing_time.parquet", "kpi_completion_rate.parquet", "kpi_processing_time.csv"} <= set(duck)
    assert kpis(built["spark"][0]) == duck


@pytest.mark.spark
def test_files_read_where_they_live_are_recorded_in_a_manifest(built):
    files = sorted((built["lake"] / "customs" / MONTH).iterdir())
    manifest = query(built["spark"][0], "SELECT agency_id, month, uri, size_bytes, sha256, run_id "
                                        "FROM extract_manifest ORDER BY uri")
    assert manifest == [("customs", dt.date(2025, 1, 1), p.as_uri(), p.stat().st_size,
                         hashlib.sha256(p.read_bytes()).hexdigest(), built["spark"][1].run_id) for p in files]
    assert len(manifest) == 6  # three generated, seeded, text, and the file that is not Parquet
    archived = query(built["spark"][0], "SELECT source_path FROM raw_submissions WHERE source_path LIKE '%extract-%' "
                                        "ORDER BY ALL")
    assert [path for (path,) in archived] == [f"licensing/{MONTH}/extract-{name}.parquet"
                                              for name in ("000", "001", "seeded")]


@pytest.mark.spark
def test_run_outputs_are_run_scoped_parquet_that_one_step_loads_into_any_warehouse(built, tmp_path):
    """Workers share no warehouse file: a run's outputs (<storage>/<run id>/) are all that the load needs."""
    root, result, _ = built["spark"]
    prefix = root.parent / "shared" / result.run_id / "stg_extract_transactions"
    assert sorted(p.name for p in prefix.iterdir()) == ["accounting.parquet", "aggregates", "catalogue.parquet",
                                                        "manifest.parquet", "quarantine", "spec.json",
                                                        "unreadable.parquet"]
    inputs = root.parent / "shared" / result.run_id / "inputs"  # licensing's archived files, where executors read
    assert sorted(p.relative_to(inputs).as_posix() for p in inputs.rglob("*.parquet")) == [
        f"licensing/{MONTH}/{i:03d}-extract-{name}.parquet" for i, name in enumerate(("000", "001", "seeded"))]
    store = DataStore(data_dir=str(tmp_path))
    with store.connect() as con:
        con.execute("BEGIN")
        accounting = load_stage_outputs(con, prefix.as_uri())
        con.execute("COMMIT")
    assert query(tmp_path, AGGREGATES) == query(root, AGGREGATES)
    assert query(tmp_path, QUARANTINE) == query(root, QUARANTINE)
    assert len(accounting) == 6 + 3  # customs' six files (one unreadable), licensing's three


ENGINE_PROBLEMS = [
    (lambda d: d["agencies"][0].update(engine="flink"),
     "agency 'revenue', key 'engine': must be one of 'duckdb' or 'spark', not 'flink'"),
    (lambda d: d["agencies"][0].update(extract_location="s3a://lake/revenue/{month}"),
     "agency 'revenue', key 'extract_location': is read only with engine spark (extracts read where they live)"),
    (lambda d: d["agencies"][0].update(engine="spark", extract_location="s3a://lake/revenue"),
     "agency 'revenue', key 'extract_location': must contain {month} (YYYY-MM): each month's extracts are a folder "
     "of their own"),
    (lambda d: d.update(spark={"master": "local[2]", "token_env": "my-token"}),
     "spark, key 'token_env': must be the name of an environment variable (capital letters, digits and _), never "
     "the token itself"),
    (lambda d: d.update(spark={"remote": "http://spark:15002"}),
     "spark, key 'remote': must be a Spark Connect address, sc://host:port"),
    (lambda d: d.update(spark={"mastr": "local[2]"}), "spark, key 'mastr': unknown key (did you mean 'master'?)"),
    (lambda d: (d["agencies"][0].update(engine="spark"), d.update(spark={"master": "spark://10.0.0.5:7077"})),
     "spark, key 'storage': must be set when Spark runs on a cluster (master spark://10.0.0.5:7077): by default the "
     "run's extract inputs and outputs are under the data folder on the run worker's disk, which executors on other "
     "machines cannot read; set a folder every executor mounts at the same path, or an object-store URI (s3a://, "
     "gs://, abfss://)"),
]


@pytest.mark.parametrize("change, problem", ENGINE_PROBLEMS)
def test_the_engine_settings_are_checked_with_the_rest_of_the_configuration(tmp_path, change, problem):
    config = tmp_path / "config"
    shutil.copytree(PROJECT_CONFIG_DIR, config)
    registry = yaml.safe_load((config / "sources.yaml").read_text(encoding="utf-8"))
    change(registry)
    (config / "sources.yaml").write_text(yaml.safe_dump(registry, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert [str(p) for p in caught.value.problems] == [f"{config / 'sources.yaml'}: {problem}"]
