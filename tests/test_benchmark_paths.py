"""The benchmark's paths at a small size: the pipeline's published figures equal the floor query's, exactly."""

import json

import duckdb
import pytest

from benchmarks import paths
from benchmarks.generate import generate, services
from benchmarks.report import write_results
from benchmarks.run import differences, measure


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """Two months of generated extracts (several files a month), and each path's figures on them."""
    root = tmp_path_factory.mktemp("bench")
    made = generate(root / "data", 40_000, months=2, rows_per_file=9_000)
    out = {name: root / f"{name}.parquet" for name in ("pipeline", "floor", "polars", "pandas")}
    timings = paths.pipeline(root / "data", out["pipeline"], "2025-01", "2025-02")
    paths.floor(root / "data", out["floor"])
    paths.polars_path(root / "data", out["polars"])
    paths.pandas_path(root / "data", out["pandas"])
    return root, made, out, timings


def rows(path, where: str = "") -> list[tuple]:
    return duckdb.connect().execute(f"SELECT * FROM read_parquet(?) {where} ORDER BY ALL", [str(path)]).fetchall()


def test_the_generator_writes_what_it_was_asked(figures):
    root, made, _, _ = figures
    assert made["events"] == 40_000 and made["months"] == ["2025-01-01", "2025-02-01"]
    assert len(made["files"]) == 6  # customs 14,000 a month in two files, licensing 6,000 in one
    counts = dict(duckdb.connect().execute(
        "SELECT service_id, count(*) FROM read_parquet(?) GROUP BY ALL", [[str(f) for f in made["files"]]]).fetchall())
    assert sum(counts.values()) == 40_000
    biggest = sorted(counts.values(), reverse=True)
    assert sum(biggest[:3]) > 0.4 * 40_000 and biggest[-1] < 0.01 * 40_000  # a few services carry most volume
    assert len(counts) == len(services())


def test_the_pipeline_figures_equal_the_floor_query_exactly(figures):
    _, _, out, timings = figures
    pipeline, floor = rows(out["pipeline"], "WHERE transactions_started > 0"), rows(out["floor"])
    assert pipeline == floor
    offered = sum(len(s["channels"]) + 1 for s in services())  # every offered channel and 'all'
    assert len(rows(out["pipeline"])) == 2 * offered and len(floor) > 0.95 * 2 * offered
    assert differences(out["pipeline"], out["floor"]) == 0
    assert timings["rows_read"] == 40_000


def test_the_pipelines_other_rows_are_offered_channels_with_no_transaction(figures):
    _, _, out, _ = figures
    assert {r[3:] for r in rows(out["pipeline"], "WHERE transactions_started = 0")} <= {(0, 0, None, None)}


@pytest.mark.parametrize("peer", ["polars", "pandas"])
def test_polars_and_pandas_give_the_same_figures_to_rounding(figures, peer):
    _, _, out, _ = figures
    assert differences(out["pipeline"], out[peer], tolerance=1e-9) == 0
    assert [r[:5] for r in rows(out[peer])] == [r[:5] for r in rows(out["floor"])]


def test_a_measured_child_reports_its_figures_time_and_peak_memory(figures, tmp_path):
    root, _, out, _ = figures
    measured = measure("floor", root / "data", tmp_path / "floor.parquet")
    assert rows(tmp_path / "floor.parquet") == rows(out["floor"])
    assert measured["seconds"] >= measured["seconds_in_process"] > 0
    assert 20 < measured["peak_mb"] < 2048  # a Python process with DuckDB loaded, on 40,000 rows


def test_the_results_page_states_each_target_and_by_how_much_it_is_missed(tmp_path):
    path = {"seconds": 30.0, "peak_mb": 1500.0, "run_seconds": 24.0, "gate_seconds": 6.0, "check_step_seconds": 3.0,
            "extract_step_seconds": 15.0, "aggregation_seconds": 8.0, "rows_read": 50_000_000, "steps": 46,
            "step_seconds": {"stg_extract_transactions": 15.0, "raw_agency_returns": 2.0, "kpi_rollups": 0.5},
            "load_before": 3.5}
    report = {
        "machine": {"cpu": "test cpu", "cores": 2, "memory_gb": 8, "system": "Linux", "python": "3.11",
                    "versions": {"duckdb": "2.0.1"}, "load_before": (1.0, 1.0, 1.0)},
        "load_after": (2.0, 2.0, 2.0), "started": "today",
        "sizes": [{"events": 50_000_000, "paths": {"pipeline": path, "floor": {"seconds": 10.0, "peak_mb": 600.0,
                                                                               "differences": 0},
                                                   "pandas": {"skipped": "needs about 9 GB; 4 GB available"}}}],
        "incremental": {"months_built": 36, "events_per_month": 1_000_000, "events": 37_000_000,
                        "first": {**path, "seconds": 90.0}, "added": {**path, "seconds": 5.0},
                        "full": {**path, "seconds": 100.0}, "same_published_kpis": True},
        "imports": {"runs": 5, "ratio": 2.5, "median_seconds": {"pipelines.definitions": 2.5, "dagster": 1.0},
                    "seconds": {"pipelines.definitions": [2.5] * 5, "dagster": [1.0] * 5}},
        "monthly_path": {"failed": "OSError: No space left on device"},
        "site": {"services": 2002, "pages": 400, "service_pages": 2002,
                 "sources": {"seconds": 60.0, "cpu_seconds": 50.0, "peak_rss_mb": 900, "load_before": 2.0},
                 "build": {"seconds": 200.0, "cpu_seconds": 300.0, "peak_rss_mb": 2900, "load_before": 2.5}},
    }
    (tmp_path / "RESULTS.md").write_text("an older page\n## Recorded by hand: notes\nkept as written\n")
    write_results(report, tmp_path / "RESULTS.md")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| 3.00x (30.0 s against 10.0 s) | **missed**: by 1.50x (10 s); the goal of 1.5x by 15 s | 3.5 |" in text
    assert "| 1,500 MB | met | 3.5 |" in text
    assert "| 30% (9.0 s of 30.0 s) | **missed**: by 15 points | 3.5 |" in text
    assert ("| the dashboards for 2,002 services built in at most 4 minutes | 260 s (`npm run sources` 60 s, "
            "`build:strict` 200 s) | **missed**: by 20 s | 2.5 |") in text
    assert "| ... and in at most 2 GB | 2,900 MB (the largest process) | **missed**: by 852 MB | 2.5 |" in text
    assert text.endswith("\n## Recorded by hand: notes\nkept as written\n") and "an older page" not in text
    assert ("the checks took 9.0 s of the pipeline's 30.0 s: the duplicate check's 6.0 s (75% of the aggregation's "
            "8.0 s: every id") in text
    assert "| 5.0% (5.0 s against 100.0 s) | met | 3.5 |" in text
    assert "| 2.50x (2.50 s against 1.00 s) | **missed**: by 0.50x | (not recorded) |" in text
    assert "(700 services from 100 agencies): not measured in this run (OSError: No space left on device)" in text
    assert "times one month of 700 services from 100 agencies, failed: OSError: No space left on device." in text
    assert "Not measured yet: `make bench SIZE=1B`." in text
    assert "skipped: needs about 9 GB; 4 GB available" in text
    assert "byte-identical to those of the full rebuild" in text
    json.dumps(report)  # the same report is kept as JSON beside the data
