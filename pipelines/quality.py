"""Asset checks: the Great Expectations suites of expectations/ run against the warehouse tables.

Blocking checks (schema, keys, impossible values) stop downstream assets in the same run; warnings (outliers) are shown in the UI and do not. A failing check reports counts and up to 10 example rows.
"""


import dagster as dg

from expectations.runner import SuiteResult, run_suite
from expectations.suites import BLOCKING
from pipelines.resources import WAREHOUSE_POOL, DataStore
from transforms import sql

KEYS = {
    "stg_service_catalogue": ["service_id"],
    "stg_transactions": ["service_id", "month", "channel"],
    "stg_costs": ["service_id", "month", "cost_category", "channel"],
    "stg_satisfaction": ["service_id", "month", "channel"],
    "fct_service_month_channel": ["service_id", "month", "channel"],
    "kpi_cost_per_transaction": ["service_id", "month", "channel"],
    "kpi_digital_take_up": ["service_id", "month"],
    "kpi_completion_rate": ["service_id", "month", "channel"],
    "kpi_user_satisfaction": ["service_id", "month", "channel"],
    "kpi_by_period": ["service_id", "grain", "period_start", "source", "channel"],
    "stg_extract_transactions": ["service_id", "month", "channel"],
    "kpi_processing_time": ["service_id", "month", "channel"],
}


def check_result(result: SuiteResult, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=result.success,
        severity=severity,
        metadata={
            "suite": result.suite,
            "rows_checked": result.rows,
            "expectations": result.evaluated,
            "expectations_failed": len(result.failures),
            "failures": dg.MetadataValue.json([vars(f) for f in result.failures]),
        },
    )


def _suite_check(table: str):
    @dg.asset_check(pool=WAREHOUSE_POOL, asset=table, name="valid", blocking=True,
                    description=f"Great Expectations suite '{table}': schema, keys and impossible values.")
    def valid(store: DataStore) -> dg.AssetCheckResult:
        with store.connect() as con:
            frame = con.execute(f"SELECT * FROM {table}").df()
        return check_result(run_suite(table, frame, KEYS[table]), dg.AssetCheckSeverity.ERROR)
    return valid


@dg.asset_check(pool=WAREHOUSE_POOL, asset="kpi_cost_per_transaction", name="month_on_month_jumps",
                description="Warns when a service's volume or cost per transaction moves more than 3x in a month.")
def month_on_month_jumps(store: DataStore) -> dg.AssetCheckResult:
    with store.connect() as con:
        frame = con.execute(sql("check_month_on_month")).df()
    return check_result(run_suite("kpi_cost_per_transaction", frame, ["service_id", "month"], warnings=True),
                        dg.AssetCheckSeverity.WARN)


suite_checks = [_suite_check(table) for table in BLOCKING]
asset_checks = [*suite_checks, month_on_month_jumps]
