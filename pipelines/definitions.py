"""The code location: assets, checks, the job and the resource. Assembles only."""


import dagster as dg

from pipelines.automation import kpi_freshness_checks, schedules as automation_schedules, sensors as automation_sensors
from pipelines.benefits import benefit_assets
from pipelines.extracts import stg_extract_transactions
from pipelines.facts import fct_service_month, fct_service_month_channel
from pipelines.housekeeping import housekeeping, housekeeping_schedule
from pipelines.ingestion import raw_agency_returns, raw_api_returns, raw_reference_files
from pipelines.kpis import kpi_assets
from pipelines.publishing import pub_open_data
from pipelines.quality import asset_checks
from pipelines.reports import pub_benefits_summary
from pipelines.records import raw_performance_records, satisfaction_method_drift, stg_reported_figures
from pipelines.resources import data_store_from_env
from pipelines.rollups import kpi_rollups, kpi_service_summary
from pipelines.sources import returns_on_time, stg_agencies, submission_sensor, submission_status
from pipelines.staging import (stg_benefits_register, stg_costs, stg_satisfaction, stg_service_catalogue,
                               stg_transactions)

assets = [raw_reference_files, raw_agency_returns, raw_api_returns, raw_performance_records, stg_agencies, submission_status,
          stg_service_catalogue, stg_benefits_register, stg_transactions, stg_reported_figures, satisfaction_method_drift,
          stg_costs, stg_satisfaction, stg_extract_transactions, fct_service_month_channel, fct_service_month, *kpi_assets, kpi_rollups,
          kpi_service_summary, *benefit_assets, pub_open_data,
          pub_benefits_summary]

checks = [*asset_checks, returns_on_time]

# Every asset, checks included: one run covers a month or, with a partition range, a backfill in one go.
# The freshness checks are left out: the daemon evaluates them on their own (pipelines/automation.py).
monthly_cycle = dg.define_asset_job("monthly_cycle",
                                    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*kpi_freshness_checks),
                                    description="Archive, stage, validate and publish the returns of the months given.")

defs = dg.Definitions(
    assets=assets,
    asset_checks=[*checks, *kpi_freshness_checks],
    jobs=[monthly_cycle, housekeeping],
    schedules=[*automation_schedules, housekeeping_schedule],
    sensors=[submission_sensor, *automation_sensors],
    resources={"store": data_store_from_env()},
    # Steps share one DuckDB file (one writer at a time) and are small: run them in one process.
    executor=dg.in_process_executor,
)
