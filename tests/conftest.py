"""Shared fixtures: a small generated dataset run through the whole graph once, and a warehouse of few responses."""

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import assets, checks, everything
from examples.generator import generate
from pipelines.lib.config import PROJECT_CONFIG_DIR
from pipelines.defs.publishing.open_data import publish
from pipelines.lib.resources import DataStore, Settings
from pipelines.lib.tables import build_months, build_table
from transforms.catalogue import TABLES

SMALL = {"start": "2025-07", "months": 6, "services_per_agency": 2}
FIRST, LAST = "2025-07-01", "2025-12-01"
BROKEN = "pensions/2025-11/satisfaction.json"  # replaced by bytes no JSON parser accepts


def run_graph(store: DataStore, start: str = FIRST, end: str = LAST, selection=None, tags: dict | None = None,
              config_dir: Path = PROJECT_CONFIG_DIR, instance: dg.DagsterInstance | None = None
              ) -> dg.ExecuteInProcessResult:
    """Materialise the whole graph (checks included) for the months [start, end] in one run (in `instance`, or a
    throwaway one)."""
    return dg.materialize(
        [*assets, *checks], resources={"store": store, "settings": Settings(config_dir=str(config_dir))},
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end,
              **(tags or {})},
        selection=everything if selection is None else selection, raise_on_error=False)


def published_checksums(store: DataStore) -> dict[str, str]:
    return {p.relative_to(store.published).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.published.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(store, defects, result): the small dataset landed, a broken file added, the whole graph run once."""
    root = tmp_path_factory.mktemp("pipeline")
    store = DataStore(data_dir=str(root))
    defects = generate(store.landing, **SMALL)
    (store.landing / BROKEN).write_text('{"serviceId": "PEN-001", "period": ', encoding="utf-8")
    result = run_graph(store)
    return store, defects, result


@pytest.fixture
def copied(built, tmp_path):
    """A private copy of the built data folder, for tests that change it."""
    store, defects, _ = built
    shutil.copytree(store.root, tmp_path / "data")
    return DataStore(data_dir=str(tmp_path / "data")), defects


QUARTER = [dt.date(2024, 4, 1), dt.date(2024, 5, 1), dt.date(2024, 6, 1)]  # Q1 2024-25, a financial quarter
RATINGS = (0, 0, 1, 1, 2)  # 4 responses a month: score 0.8125, share 0.75 (12 in the quarter: the same)


@pytest.fixture
def four_responses(tmp_path):
    """A warehouse in tmp_path with one service surveyed by 4 people a month for a quarter (and the same 4 ratings in
    a Performance-Platform record beside a reported percentage, and a benefit measured by its score), every table
    built by the functions its asset calls, and the open data published from it: (store, the satisfaction figures
    that those few responses give)."""
    store = DataStore(data_dir=str(tmp_path))
    with store.connect() as con:
        con.execute("INSERT INTO stg_agencies VALUES ('AG1', 'Agency One', 'Dept A', 'file_drop', 10, ['monthly'], "
                    "'2024-04-01', NULL)")
        con.execute("INSERT INTO stg_service_catalogue VALUES ('S1', 'Service One', 'AG1', 'Dept A', 'licensing', "
                    "'citizen', ['online', 'phone'], false, NULL)")
        staged = "$m AS period_start, last_day($m) AS period_end, 'month' AS grain, 'S1' AS service_id, $m AS month"
        for number, month in enumerate(QUARTER, 1):
            for channel, started, completed in (("online", 60, 57), ("phone", 40, 38)):
                con.execute(f"INSERT INTO stg_transactions BY NAME SELECT {staged}, $channel AS channel, "
                            "$started AS transactions_started, $completed AS transactions_completed, "
                            "'AG1' AS agency_id, 't.csv' AS source_file, $row AS source_row",
                            {"m": month, "channel": channel, "started": started, "completed": completed, "row": number})
            con.execute(f"INSERT INTO stg_costs BY NAME SELECT {staged}, 'staff' AS cost_category, "
                        "'shared' AS channel, 950.0 AS cost_gbp, 'AG1' AS agency_id, 'c.csv' AS source_file, "
                        "$row AS source_row",
                        {"m": month, "row": number})
            con.execute(f"INSERT INTO stg_satisfaction BY NAME SELECT {staged}, 'online' AS channel, "
                        "$r1 AS rating_1, $r2 AS rating_2, $r3 AS rating_3, $r4 AS rating_4, $r5 AS rating_5, "
                        "'AG1' AS agency_id, 's.csv' AS source_file, $row AS source_row",
                        {"m": month, "row": number, **{f"r{i}": r for i, r in enumerate(RATINGS, 1)}})
        con.executemany("INSERT INTO stg_reported_figures VALUES ('AG1', 'S1', ?, 'all', ?, ?, 'p.json', 1)",
                        [(QUARTER[0], f"rating_{i}", r) for i, r in enumerate(RATINGS, 1)]
                        + [(QUARTER[0], "reported_satisfaction_percent", 81.0)])
        con.execute("INSERT INTO stg_benefits_register VALUES ('B1', 'Happier users', NULL, 'S1', 'non-cashable', "
                    "'satisfaction_score', '0..1', 0.5, $start, 0.9, DATE '2025-03-01', 'Owner', 'SRO', NULL, "
                    "'medium', NULL)", {"start": QUARTER[0]})  # a benefit measured by those few responses
        for table in TABLES:
            if table.build == "months":
                build_months(con, table, QUARTER[0], dt.date(2024, 7, 1))
            elif table.build == "sql":
                build_table(con, table)
        figures = {row[0] for row in con.execute("""
            SELECT round(unnest([satisfaction_score, satisfaction_score_ci_low, satisfaction_score_ci_high,
                satisfied_share, satisfied_share_ci_low, satisfied_share_ci_high,
                satisfaction_score * responses, 100 * satisfaction_score, 100 * satisfied_share]), 6)
            FROM kpi_user_satisfaction
            UNION SELECT round(unnest([satisfaction_score, satisfied_share, satisfaction_score * responses]), 6)
            FROM kpi_by_period WHERE responses > 0""").fetchall()} - {0.0, 1.0}  # intervals clipped to 0..1
    publish(store, Settings().config.open_data)
    return store, figures


# The files whose tests take longest start first (the Makefile turns off xdist's own order, most tests first), so
# that with a worker a core none is left running alone at the end; the order of the tests within a file is unchanged.
# The first eight run only in `make test` (by their seconds in its runs); the rest by their seconds in a
# `make test-fast` (2026-12-07).
LONGEST_FIRST = ("test_postgres.py", "test_dashboards.py", "test_dashboards_names.py", "test_dashboards_real.py",
                 "test_spark_cluster.py", "test_spark_extracts.py", "test_crash_safety.py",
                 "test_compute_apart_from_load.py", "test_hostile_run.py", "test_inventory_year_by_year.py",
                 "test_pipeline.py", "test_service_facts_over_time.py", "test_bad_inputs.py", "test_extracts.py",
                 "test_housekeeping.py", "test_checks.py", "test_real_data.py", "test_portal.py", "test_onboarding.py",
                 "test_portal_security.py")


def pytest_collection_modifyitems(items):
    rank = {name: number for number, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # a stable sort
