"""KPI marts: each rebuilt whole from the facts by its SQL file in transforms/sql (the formula's one home).

They are small (services x months x channels) and rolling windows and baselines reach across months, so a
whole rebuild is both the simplest and the always-correct choice.
"""


import dagster as dg

from pipelines.faults import pause_point
from pipelines.resources import DataStore
from transforms import sql

KPI_TABLES = {
    "kpi_cost_per_transaction": (["fct_service_month_channel", "fct_service_month"],
                                 "Cost per transaction (GBP) per service, month and channel, monthly and rolling 12 months."),
    "kpi_digital_take_up": (["fct_service_month_channel"],
                            "Digital take-up (0..1) and channel shift against the baseline month, per service and month."),
    "kpi_completion_rate": (["fct_service_month_channel", "fct_service_month"],
                            "Completion rate (completed / started, 0..1) per service, month and channel."),
    "kpi_user_satisfaction": (["fct_service_month_channel"],
                              "User satisfaction: GOV.UK score and top-2-box share with 95% intervals."),
}


def build_kpi(store: DataStore, table: str) -> dict:
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql(table)}")
        pause_point("kpi")
        con.execute("COMMIT")
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        preview = con.execute(f"SELECT * FROM {table} ORDER BY month DESC, service_id LIMIT 5").df()
    return {"dagster/row_count": rows, "preview": dg.MetadataValue.md(preview.to_markdown(index=False))}


def _kpi_asset(table: str, deps: list[str], description: str):
    @dg.asset(name=table, group_name="kpis", deps=deps, description=description, kinds={"duckdb"})
    def kpi(store: DataStore) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=build_kpi(store, table))
    return kpi


kpi_assets = [_kpi_asset(table, deps, description) for table, (deps, description) in KPI_TABLES.items()]
