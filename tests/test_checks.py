"""Each asset check, run by Dagster against a real warehouse: passing on good data, failing on bad data."""

import csv
import datetime as dt
import re
import shutil
from decimal import Decimal

import dagster as dg
import polars as pl
import pytest

from expectations.result import EXAMPLES
from expectations.runner import run_suite
from expectations.suites import _domain_rules
from pipelines.lib.resources import DataStore
from pipelines.run import checks_summary
from transforms.catalogue import CATALOGUE
from tests.conftest import published_checksums, run_graph

# table -> (a statement that breaks one of its rules, the expectation that must then fail)
BREAKAGES = {
    # (the table's primary key forbids a repeat, so the repeat goes into a copy without one)
    "stg_service_catalogue": ("CREATE OR REPLACE TABLE stg_service_catalogue AS SELECT * FROM stg_service_catalogue "
                              "UNION ALL (SELECT * FROM stg_service_catalogue LIMIT 1)",
                              "expect_column_values_to_be_unique"),
    "stg_transactions": ("UPDATE stg_transactions SET transactions_completed = transactions_started + 1 "
                         "WHERE transactions_started IS NOT NULL", "expect_column_pair_values_a_to_be_greater_than_b"),
    "stg_costs": ("UPDATE stg_costs SET cost_gbp = -1 WHERE cost_category = 'staff'",
                  "expect_column_values_to_be_between"),
    "stg_satisfaction": ("INSERT INTO stg_satisfaction SELECT * FROM stg_satisfaction LIMIT 3",
                         "expect_compound_columns_to_be_unique"),
    "fct_service_month_channel": ("UPDATE fct_service_month_channel SET channel = 'fax' WHERE channel = 'paper'",
                                  "expect_column_values_to_be_in_set"),
    "kpi_cost_per_transaction": ("UPDATE kpi_cost_per_transaction SET cost_per_transaction_gbp = 0 "
                                 "WHERE channel = 'online'", "expect_column_values_to_be_between"),
    "kpi_digital_take_up": ("UPDATE kpi_digital_take_up SET digital_take_up_rate = 1.2 WHERE month = '2025-08-01'",
                            "expect_column_values_to_be_between"),
    "kpi_completion_rate": ("UPDATE kpi_completion_rate SET completion_rate = -0.1 WHERE channel = 'phone'",
                            "expect_column_values_to_be_between"),
    "kpi_by_period": ("UPDATE kpi_by_period SET completion_rate = 2 WHERE channel = 'online'",
                      "expect_column_values_to_be_between"),
    # (no extracts in the small example data: the broken row is inserted)
    "stg_extract_transactions": ("INSERT INTO stg_extract_transactions VALUES "
                                 "('land', 'LND-001', '2025-11-01', 'online', 10, 12, 30, 60)",
                                 "expect_column_pair_values_a_to_be_greater_than_b"),
    "kpi_processing_time": ("CREATE OR REPLACE TABLE kpi_processing_time AS SELECT 'LND-001' AS service_id, "
                            "DATE '2025-11-01' AS month, 'online' AS channel, 10 AS transactions_completed, "
                            "90.0 AS time_to_complete_median_seconds, 60.0 AS time_to_complete_p90_seconds",
                            "expect_column_pair_values_a_to_be_greater_than_b"),
    "kpi_user_satisfaction": ("UPDATE kpi_user_satisfaction SET satisfaction_score_ci_low = 1 "
                              "WHERE channel = 'all'", "expect_column_pair_values_a_to_be_greater_than_b"),
}


def breakage(table: str) -> tuple[str, str]:
    """A table's breakage above, or, for a suite of its key and columns alone (a new KPI's), one row repeated, which
    its key forbids (into a copy without the primary key)."""
    key = CATALOGUE[table].key
    return BREAKAGES.get(table) or (
        f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} UNION ALL (SELECT * FROM {table} LIMIT 1)",
        "expect_compound_columns_to_be_unique" if len(key) > 1 else "expect_column_values_to_be_unique")


def checks_only(table: str):
    return dg.AssetSelection.checks_for_assets(dg.AssetKey(table))


SUITES = sorted(name for name, table in CATALOGUE.items() if table.suite)


def test_every_blocking_suite_with_domain_rules_has_a_breakage_of_one_here():
    assert set(BREAKAGES) == set(SUITES) & set(_domain_rules())


def test_all_checks_pass_on_good_data_but_the_missing_return(built):
    _, _, result = built
    outcomes = {(c.asset_key.to_user_string(), c.check_name): c.passed for c in result.get_asset_check_evaluations()}
    assert outcomes == {**{(table, "valid"): True for table, entry in CATALOGUE.items() if entry.suite},
                        ("kpi_cost_per_transaction", "month_on_month_jumps"): True,
                        ("kpi_by_period", "reported_figures_agree"): True,
                        ("submission_status", "returns_on_time"): False,
                        ("stg_service_catalogue", "services_in_catalogue"): True,
                        ("submission_accounting", "accounting_adds_up"): True}


@pytest.fixture(scope="module")
def every_suite_broken(built, tmp_path_factory) -> dict[str, dg.AssetCheckEvaluation]:
    """A copy of the built data with every suite's table broken as above, and every suite run on it in one run (a
    suite reads its own table only): each table's evaluation of `valid`."""
    store = DataStore(data_dir=str(tmp_path_factory.mktemp("broken") / "data"))
    shutil.copytree(built[0].root, store.root)
    with store.connect() as con:
        for table in SUITES:
            con.execute(breakage(table)[0])
    result = run_graph(store, selection=dg.AssetSelection.checks(
        *(dg.AssetCheckKey(dg.AssetKey(table), "valid") for table in SUITES)))
    return {c.asset_key.to_user_string(): c for c in result.get_asset_check_evaluations()}


@pytest.mark.parametrize("table", SUITES)
def test_check_fails_on_bad_data_with_counts_and_examples(every_suite_broken, table):
    expectation = breakage(table)[1]
    evaluation = every_suite_broken[table]
    assert evaluation.check_name == "valid"
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    failures = evaluation.metadata["failures"].value
    failure = next(f for f in failures if f["expectation"] == expectation)
    assert failure["unexpected_count"] >= 1
    assert 1 <= len(failure["examples"]) <= EXAMPLES
    assert failure["why"]


def test_blocking_failure_stops_downstream_assets(copied):
    """A broken staged table must not flow into facts, KPIs or the published files; the failed check is recorded in
    the instance as the UI shows it (the suites run as DuckDB SQL, still as a Dagster asset check)."""
    store, _ = copied
    with store.connect() as con:
        con.execute(BREAKAGES["stg_costs"][0])
    published_before = (store.published / "kpi_cost_per_transaction.parquet").read_bytes()
    selection = (dg.AssetSelection.assets("stg_costs").downstream() - dg.AssetSelection.assets("stg_costs")) \
        | checks_only("stg_costs")
    instance = dg.DagsterInstance.ephemeral()
    result = run_graph(store, selection=selection, instance=instance)
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.asset_key == dg.AssetKey("stg_costs")]
    assert not evaluation.passed
    key = dg.AssetCheckKey(dg.AssetKey("stg_costs"), "valid")
    [record] = instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
    shown = record.event.dagster_event.event_specific_data
    assert (record.run_id, record.status.value, shown.severity) == (result.run_id, "FAILED",
                                                                      dg.AssetCheckSeverity.ERROR)
    assert [f["expectation"] for f in shown.metadata["failures"].value] == ["expect_column_values_to_be_between"]
    # the check ran first and blocked: nothing downstream was materialised, nothing published changed
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialised == set()
    assert (store.published / "kpi_cost_per_transaction.parquet").read_bytes() == published_before


@pytest.mark.parametrize("read, accepted, quarantined, markers_only", [
    (10, 7, 2, 0),   # a row neither accepted nor quarantined
    (10, 7, 3, 8),   # more rows of markers only than rows accepted
])
def test_accounting_check_fails_on_a_planted_row_that_does_not_add_up(copied, read, accepted, quarantined,
                                                                      markers_only):
    store, _ = copied
    with store.connect() as con:
        con.execute("INSERT INTO submission_accounting BY NAME SELECT 'transactions' AS return_type, 'revenue' AS "
                    "agency_id, DATE '2025-09-01' AS month, 'revenue/2025-09/planted.csv' AS source_file, 'abc' AS "
                    "sha256, 'read' AS file_status, ? AS rows_read, ? AS rows_accepted, ? AS rows_quarantined, "
                    "? AS rows_markers_only", [read, accepted, quarantined, markers_only])
    result = run_graph(store, selection=checks_only("submission_accounting"))
    [evaluation] = result.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed, evaluation.severity) == (
        "accounting_adds_up", False, dg.AssetCheckSeverity.ERROR)
    assert evaluation.metadata["files"].value == 1
    assert evaluation.metadata["examples"].value == [
        {"return_type": "transactions", "agency_id": "revenue", "month": "2025-09-01",
         "source_file": "revenue/2025-09/planted.csv", "file_status": "read", "rows_read": read,
         "rows_accepted": accepted, "rows_quarantined": quarantined, "rows_markers_only": markers_only}]


def test_outlier_warning_flags_a_threefold_jump(copied):
    store, _ = copied
    with store.connect() as con:
        con.execute("UPDATE kpi_cost_per_transaction SET transactions_completed = transactions_completed * 4 "
                    "WHERE service_id = 'REV-001' AND month = '2025-09-01' AND channel = 'all'")
    result = run_graph(store, selection=dg.AssetSelection.checks(
        dg.AssetCheckKey(dg.AssetKey("kpi_cost_per_transaction"), "month_on_month_jumps")))
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    [failure] = [f for f in evaluation.metadata["failures"].value if f["column"] == "volume_ratio"]
    # the jump up in September and the fall back in October
    assert failure["unexpected_count"] == 2
    assert {e["month"][:10] for e in failure["examples"]} == {"2025-09-01", "2025-10-01"}


def test_suite_runner_passes_clean_frames():
    import pandas as pd
    frame = pd.DataFrame({"service_id": ["A", "B"], "month": ["2025-01-01"] * 2, "grain": ["month"] * 2,
                          "period_start": ["2025-01-01"] * 2, "channel": ["online", "phone"],
                          "transactions_started": [10, 5], "transactions_completed": [9, 5]})
    result = run_suite("stg_transactions", frame)
    assert (result.success, result.rows, result.failures) == (True, 2, [])


def test_a_key_column_left_empty_fails_its_suite_which_the_catalogue_entry_makes():
    import pandas as pd
    frame = pd.DataFrame({"service_id": ["A", "A"], "month": ["2025-01-01"] * 2, "channel": ["online", None],
                          "transactions_started": [10, 5], "transactions_completed": [9, 5],
                          "completion_rate": [0.9, 1.0]})
    result = run_suite("kpi_completion_rate", frame)
    assert [(f.expectation, f.column, f.why, f.unexpected_count) for f in result.failures] == [
        ("expect_column_values_to_not_be_null", "channel", "channel is part of the key", 1)]
    [example] = result.failures[0].examples  # named by the entry's key (its empty channel comes back as NaN)
    assert (example["service_id"], example["month"], sorted(example)) == ("A", "2025-01-01",
                                                                          ["channel", "month", "service_id"])


def test_a_blocking_failure_names_the_agency_service_period_and_source_files(copied):
    store, _ = copied
    with store.connect() as con:
        con.execute("UPDATE kpi_cost_per_transaction SET cost_per_transaction_gbp = 0 "
                    "WHERE service_id = 'REV-001' AND month = '2025-09-01' AND channel = 'all'")
    result = run_graph(store, selection=checks_only("kpi_cost_per_transaction"))
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.check_name == "valid"]
    where = ("agency revenue, service REV-001, period 2025-09, source files: revenue/2025-09/costs.csv, "
             "revenue/2025-09/satisfaction.csv, revenue/2025-09/transactions.csv")
    assert evaluation.metadata["where"].value == [where]
    assert checks_summary([evaluation], demo=False).splitlines()[2:] == [
        "  kpi_cost_per_transaction:valid (BLOCKING)",
        "    cost_per_transaction_gbp: a completed transaction always costs something: 0 or less means costs are "
        "missing or wrong",
        f"    {where}"]


def raw_sum(path, service_id: str, column: str, kind=int):
    """The sum of one column over a service's rows of a landed CSV, read with the csv module (not the product)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return sum((kind(row[column]) for row in csv.DictReader(handle) if row["service_id"] == service_id), kind(0))


def test_one_services_impossible_but_valid_figures_withhold_its_cost_per_transaction_and_all_else_publishes(copied):
    """Costs of 0 for completed transactions, or a volume near 2^53, would give a cost per transaction of 0, which
    no transaction has: that service-month's figure is withheld with the reason, every blocking check passes, and
    every other service's figures are published as before."""
    store, _ = copied
    before = pl.read_parquet(store.published / "kpi_cost_per_transaction.parquet")
    costs = store.landing / "revenue/2025-09/costs.csv"
    costs.write_text("".join(re.sub(r",[0-9.]+$", ",0.00", line) if line.startswith("REV-001,") else line
                             for line in costs.read_text().splitlines(keepends=True)))
    volumes = store.landing / "companies/2025-09/transactions.csv"
    online = re.compile(r"^COM-001,2025-09-01,online,[0-9]+,[0-9]+$", re.M)
    assert len(online.findall(volumes.read_text())) == 1
    volumes.write_text(online.sub("COM-001,2025-09-01,online,9007199254740993,9007199254740993", volumes.read_text()))
    result = run_graph(store)
    assert {c.asset_key.to_user_string() for c in result.get_asset_check_evaluations()
            if c.check_name == "valid" and not c.passed} == set()
    # the expected figures from the landed files themselves
    landed = {month: (store.landing / f"companies/2025-{month:02d}/transactions.csv",
                      store.landing / f"companies/2025-{month:02d}/costs.csv") for month in (7, 8, 9)}
    com_completed = raw_sum(landed[9][0], "COM-001", "transactions_completed")
    com_cost = float(raw_sum(landed[9][1], "COM-001", "cost_gbp", Decimal))
    rev_completed = raw_sum(store.landing / "revenue/2025-09/transactions.csv", "REV-001", "transactions_completed")
    after = pl.read_parquet(store.published / "kpi_cost_per_transaction.parquet")
    planted = pl.col("service_id").is_in(["REV-001", "COM-001"]) & (pl.col("month") == dt.date(2025, 9, 1))
    assert after.filter(planted & (pl.col("channel") == "all")).select(
        "service_id", "cost_gbp", "transactions_completed", "cost_per_transaction_gbp", "cost_per_transaction_basis",
        "missing_inputs").rows() == [
        ("COM-001", com_cost, com_completed, None, None,
         f"cost per transaction withheld: GBP {com_cost} for {com_completed} completed transactions is under GBP "
         "0.00005 a transaction (0 at 4 decimals)"),
        ("REV-001", 0.0, rev_completed, None, None,
         f"cost per transaction withheld: costs add up to 0 for {rev_completed} completed transactions")]
    quarter_completed = sum(raw_sum(t, "COM-001", "transactions_completed") for t, _ in landed.values())
    quarter_cost = float(sum(raw_sum(c, "COM-001", "cost_gbp", Decimal) for _, c in landed.values()))
    by_period = pl.read_parquet(store.published / "kpi_by_period.parquet")
    assert by_period.filter((pl.col("service_id") == "COM-001") & (pl.col("channel") == "all")
                            & (pl.col("period_start") == dt.date(2025, 7, 1))).select(
        "grain", "cost_per_transaction_gbp", "missing_inputs").rows() == [
        ("quarter", None, f"cost per transaction withheld: GBP {quarter_cost} for {quarter_completed} completed "
                          "transactions is under GBP 0.00005 a transaction (0 at 4 decimals)")]
    assert after.filter(~pl.col("service_id").is_in(["REV-001", "COM-001"])).equals(
        before.filter(~pl.col("service_id").is_in(["REV-001", "COM-001"])))


def test_a_service_renamed_in_the_catalogue_is_named_while_its_old_ids_figures_stay_published(copied):
    """REV-002 becomes REV-020 in the catalogue and in December's return; only December is run, so the months
    before keep REV-002's figures published: the warning says so, naming the old id, its agency and months."""
    store, _ = copied
    for path in ("catalogue/services.csv", *(f"revenue/2025-12/{name}.csv"
                                             for name in ("transactions", "costs", "satisfaction"))):
        (store.landing / path).write_text((store.landing / path).read_text().replace("REV-002,", "REV-020,"))
    result = run_graph(store, "2025-12-01", "2025-12-01")
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.check_name == "services_in_catalogue"]
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.WARN)
    where = ("service REV-002 of agency revenue: figures for 2025-07 to 2025-11 are published under an id the "
             "catalogue no longer has; list it again (a renamed service: keep the old id beside the new one) or "
             "re-run those months, which sets its rows aside as unknown_service")
    assert evaluation.metadata["where"].value == [where]
    assert checks_summary([evaluation], demo=False).splitlines()[2:] == [
        "  stg_service_catalogue:services_in_catalogue (warning)", f"    {where}"]
    published = pl.read_parquet(store.published / "kpi_cost_per_transaction.parquet")
    assert published.filter(pl.col("service_id") == "REV-002").get_column("month").unique().sort().to_list() == [
        dt.date(2025, month, 1) for month in range(7, 12)]


def test_a_table_failing_its_suite_in_its_own_step_is_materialised_and_stops_downstream(copied):
    """A suite runs in its table's step, after the table is built: the table is materialised and its check recorded
    failed with its metadata, the step fails, and nothing downstream runs or is published."""
    store, _ = copied
    with store.connect() as con:  # the facts' online costs made negative: the rebuilt KPI's costs per transaction too
        con.execute("UPDATE fct_service_month_channel SET cost_gbp = -1000000 WHERE channel = 'online'")
    published_before = published_checksums(store)
    result = run_graph(store, selection=dg.AssetSelection.assets("kpi_cost_per_transaction").downstream())
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialised == {"kpi_cost_per_transaction"}
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.check_name == "valid"]
    assert (evaluation.asset_key, evaluation.passed, evaluation.severity) == (
        dg.AssetKey("kpi_cost_per_transaction"), False, dg.AssetCheckSeverity.ERROR)
    assert [f["expectation"] for f in evaluation.metadata["failures"].value] == ["expect_column_values_to_be_between"]
    assert [e.step_key for e in result.all_events if e.is_step_failure] == ["kpi_cost_per_transaction"]
    assert published_checksums(store) == published_before
