"""The extract SQL's Spark translation: DuckDB's own quantiles to the last bit, where Spark's percentile differs in
the last bits (the reason the translation writes DuckDB's interpolation out), and the DuckDB-only constructs gone."""

import duckdb
import pytest

from transforms.spark_sql import spark_sql, to_spark

# 300 groups of integer durations (as seconds_to_complete), up to 500 values each, one group with no value at all;
# every value a hash of the row number, so the data are the same on any machine.
VALUES = """
SELECT g, CASE WHEN g = 7 OR i % 11 = 0 THEN NULL ELSE CAST(hash(i) % 700000 AS INTEGER) END AS s
FROM (SELECT i, CAST(hash(i * 3 + 1) % 300 AS INTEGER) AS g FROM range(150000) AS r(i))
WHERE i % 1500 < g * 5 + 1
"""


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("test_spark_sql")
               .config("spark.local.dir", str(tmp_path_factory.mktemp("spark-local")))
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2").config("spark.driver.host", "127.0.0.1")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
    session.stop()


@pytest.fixture(scope="module")
def groups(spark, tmp_path_factory):
    """(DuckDB's quantile_cont per group, the translation's on Spark, Spark's own percentile), from one file."""
    path = tmp_path_factory.mktemp("quantiles") / "values.parquet"
    con = duckdb.connect()
    con.execute(f"COPY ({VALUES}) TO '{path}' (FORMAT parquet)")
    duck = dict(con.execute("SELECT g, quantile_cont(s, [0.5, 0.9]) FROM read_parquet(?) GROUP BY g",
                            [str(path)]).fetchall())
    spark.read.parquet(str(path)).createOrReplaceTempView("v")
    translated = {r.g: r.q for r in spark.sql(f"SELECT g, {to_spark('quantile_cont(s, [0.5, 0.9])')} AS q "
                                              "FROM v GROUP BY g").collect()}
    native = {r.g: r.q for r in spark.sql("SELECT g, percentile(s, array(0.5, 0.9)) AS q FROM v GROUP BY g").collect()}
    return duck, translated, native


@pytest.mark.spark
def test_the_translated_quantiles_are_duckdbs_bit_for_bit(groups):
    duck, translated, _ = groups
    assert len(duck) == 300
    assert duck[7] is None and translated[7] is None  # no value: NULL, not an error
    assert translated == duck


@pytest.mark.spark
def test_sparks_own_percentile_agrees_to_1e_9_only(groups):
    """DuckDB rounds lo (1 - d) + hi d as one fused multiply-add; Spark's percentile computes (h - p) lo + (p - l) hi
    in two roundings. Equal to 1e-9, not to the bit: enough for figures, not for byte-identical published files."""
    duck, _, native = groups
    pairs = [(a, b) for g in duck if duck[g] is not None for a, b in zip(duck[g], native[g])]
    assert max(abs(a - b) / abs(a) for a, b in pairs if a) < 1e-9
    assert sum(a != b for a, b in pairs) > 0


def test_the_duckdb_only_constructs_are_translated():
    rows, duplicates = spark_sql("extract_rows"), spark_sql("extract_duplicates")
    assert "FROM extract_source" in rows and "READ_PARQUET" not in rows.upper()
    assert "agency_id = :agency" in rows and "typed.started_at < :month" in rows  # the macro's parameters, bound
    assert "XXHASH64(transaction_id)" in duplicates and "FROM extract_rows" in duplicates
    assert "HASH(" not in duplicates.replace("XXHASH64(", "")
    aggregates = " ".join(spark_sql("extract_aggregates").split())
    assert "PERCENTILE_CONT(" not in aggregates and "PERCENTILE(" not in aggregates
    assert "SORT_ARRAY(COLLECT_LIST(seconds_to_complete))" in aggregates
    assert "REFLECT( 'java.lang.Math', 'fma'," in aggregates


def test_the_results_page_gives_sparks_per_core_rate_beside_duckdbs(tmp_path):
    from benchmarks.report import write_results

    duck = {"seconds": 30.0, "peak_mb": 700.0, "run_seconds": 24.0, "gate_seconds": 3.0, "check_step_seconds": 9.0,
            "extract_step_seconds": 5.0, "aggregation_seconds": 2.0, "rows_read": 10_000_000, "differences": 0}
    spark = {**duck, "seconds": 200.0, "extract_step_seconds": 180.0, "spark_master": "local[2]",
             "spark_seconds": 170.0, "spark_session_seconds": 20.0, "spark_gate_seconds": 40.0,
             "spark_aggregation_seconds": 100.0}
    report = {"machine": {"cpu": "test cpu", "cores": 2, "memory_gb": 8, "system": "Linux", "python": "3.11",
                          "versions": {"duckdb": "2.0.1"}, "load_before": (1.0, 1.0, 1.0)},
              "load_after": (2.0, 2.0, 2.0), "started": "today",
              "sizes": [{"events": 10_000_000, "paths": {"pipeline": duck, "spark": spark}}]}
    write_results(report, tmp_path / "RESULTS.md")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| 10M | spark | 200.0 | 50,000 | 700 | (no floor run) |  | equal to the pipeline's |" in text
    assert "| 10M | local[2] | 200.0 | 180.0 | 170.0 | 20.0 | 40.0 | 100.0 | 33,333 |" in text
    assert "Spark staged 33,333 events a second here" in text and "against DuckDB's 1,000,000" in text
    assert "100 cores would stage a national month (100M transactions) in about 30 s" in text
    assert "## Targets" not in text  # no 50M run: no target to state
