"""The code location loads, with exactly the assets, checks, partitions and job the README describes."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.lib.partitions import MISSING_MONTHS, monthly, months_in
from pipelines.run import months_never_run
from tests.operations import PROCESS_SECONDS
from transforms.catalogue import TABLES

# Every catalogue table is an asset (side tables for the lineage only), and so are these, which are not tables.
NOT_TABLES = {"raw_reference_files", "raw_agency_returns", "raw_api_returns", "raw_performance_records",
              "pub_open_data", "pub_benefits_summary", "stg_extract_spark_inputs", "stg_extract_spark_outputs"}
ASSETS = {table.name for table in TABLES} | NOT_TABLES
SIDE_TABLES = {"raw_submissions", "quarantine", "submission_accounting", "revisions", "extract_manifest",
               "stg_service_facts"}
# Every table whose entry says suite=True has its blocking check `valid`; these are the other checks.
OTHER_CHECKS = {"kpi_cost_per_transaction:month_on_month_jumps", "kpi_by_period:reported_figures_agree",
                "submission_status:returns_on_time", "stg_service_catalogue:services_in_catalogue",
                "submission_accounting:accounting_adds_up"}
CHECKS = {f"{table.name}:valid" for table in TABLES if table.suite} | OTHER_CHECKS
MONTHLY = {"raw_agency_returns", "stg_transactions", "stg_costs", "stg_satisfaction", "fct_service_month_channel",
           "fct_service_month", "pub_benefits_summary", "stg_extract_transactions", "raw_api_returns",
           "stg_extract_spark_inputs", "stg_extract_spark_outputs"}


def test_asset_keys_and_checks_are_exactly_these():
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ASSETS
    assert {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys} == CHECKS


def test_monthly_assets_are_partitioned_by_month_and_the_rest_are_whole():
    graph = defs.resolve_asset_graph()
    partitioned = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def}
    assert partitioned == MONTHLY
    assert graph.get(dg.AssetKey("stg_costs")).partitions_def == monthly
    assert monthly.get_first_partition_key() == "2023-01-01"  # config/sources.yaml first_month: where the data starts



def test_every_monthly_asset_says_in_the_ui_why_a_month_is_missing():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        description = graph.get(key).description or ""
        assert (MISSING_MONTHS in description) == (key.to_user_string() in MONTHLY), key
        assert description.count(MISSING_MONTHS) <= 1


def test_the_run_names_the_months_no_run_has_covered():
    # every month from the first partition to the last month that has ended, by the calendar, not by Dagster
    today, month, every = dt.date.today(), dt.date(2023, 1, 1), []
    while month < today.replace(day=1):
        every.append(month.isoformat())
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    assert every[0] == monthly.get_first_partition_key()
    not_run = {"2023-03-01", "2023-05-01", "2023-06-01", "2023-07-01"}
    with dg.DagsterInstance.ephemeral() as instance:
        assert months_never_run(instance).startswith(f"\nmonths not run yet ({len(every)}, missing in the Dagster "
                                                     f"UI): 2023-01 to {every[-1][:7]}.\n")
        for key in every:
            if key not in not_run:
                instance.report_runless_asset_event(dg.AssetMaterialization("raw_agency_returns", partition=key))
        assert months_never_run(instance) == ("\nmonths not run yet (4, missing in the Dagster UI): 2023-03, "
                                              f"2023-05 to 2023-07.\n  {MISSING_MONTHS}")
        for key in not_run:
            instance.report_runless_asset_event(dg.AssetMaterialization("raw_agency_returns", partition=key))
        assert months_never_run(instance) == ""


def test_blocking_checks_are_blocking():
    graph = defs.resolve_asset_graph()
    blocking = {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys
                if graph.get_check_spec(k).blocking}
    assert blocking == {c for c in CHECKS if c.endswith(":valid")} | {"submission_accounting:accounting_adds_up"}


def test_monthly_cycle_job_covers_everything():
    job = defs.resolve_job_def("monthly_cycle")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == ASSETS - SIDE_TABLES


def test_months_in_a_range_window():
    window = dg.TimeWindow(*(dg.MonthlyPartitionsDefinition(start_date="2024-11-01")
                             .time_window_for_partition_key(k) for k in ("2024-11-01", "2025-02-01")))
    window = dg.TimeWindow(window[0].start, window[1].end)
    assert [m.isoformat() for m in months_in(window)] == ["2024-11-01", "2024-12-01", "2025-01-01", "2025-02-01"]


def test_workspace_loads_with_the_dagster_cli(tmp_path):
    (tmp_path / "dagster.yaml").write_text("", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
                            capture_output=True, text=True, env={"DAGSTER_HOME": str(tmp_path), "PATH": ""},
                            cwd=Path(__file__).parent.parent, timeout=PROCESS_SECONDS)
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    # the code location is named after the product, the same in the UI, [tool.dagster] and [tool.dg.project]; with
    # one name, loading warns nothing (it warned once per component when the names differed)
    assert "Validation successful for code location service_performance." in output
    assert "WARNING" not in output, output[-2000:]
