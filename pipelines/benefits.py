"""Benefits: channel-shift savings and their roll-ups, benefits realisation, and the summary's figures.

Each table is rebuilt whole from the KPI marts and the benefits register by its SQL file in transforms/sql (the
formulas' one home): savings accumulate since a baseline and plans run to a target month, so a whole rebuild of
these small tables is both the simplest and the always-correct choice.
"""


import dagster as dg

from pipelines.kpis import KPI_TABLES
from pipelines.resources import WAREHOUSE_POOL, DataStore
from transforms import sql

# table -> (upstream assets, key for the preview, description)
BENEFIT_TABLES = {
    "benefits_register": (
        ["stg_benefits_register"], "benefit_id",
        "The benefits register as published: baseline, target, trajectory, owners and full-year value per benefit."),
    "channel_shift_savings": (
        ["kpi_digital_take_up", "kpi_cost_per_transaction", "stg_service_catalogue"], "service_id, month",
        "Channel-shift savings per service and month (GBP): theoretical and counterfactual, monthly and cumulative."),
    "channel_shift_savings_rollup": (
        ["channel_shift_savings"], "level, group_id, month",
        "Channel-shift savings by agency, department and government, with coverage and like-for-like flags."),
    "benefits_realisation": (
        ["stg_benefits_register", *KPI_TABLES, "channel_shift_savings"], "benefit_id, month",
        "Per benefit and month: planned, actual, variance, share of target, RAG, forecast, money realised to date."),
    "benefits_summary_figures": (
        ["benefits_realisation", "channel_shift_savings", "kpi_digital_take_up", "kpi_cost_per_transaction"],
        "period_type, period_start, figure",
        "The ministers' summary's figures per month and financial quarter, with the previous period's."),
}


def build_table(store: DataStore, table: str, key: str) -> dict:
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql(table)}")
        con.execute("COMMIT")
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        preview = con.execute(f"SELECT * FROM {table} ORDER BY {key} DESC LIMIT 5").df()
    return {"dagster/row_count": rows, "preview": dg.MetadataValue.md(preview.to_markdown(index=False))}


def _benefits_asset(table: str, deps: list[str], key: str, description: str):
    @dg.asset(pool=WAREHOUSE_POOL, name=table, group_name="benefits", deps=deps, description=description, kinds={"duckdb"})
    def benefits_table(store: DataStore) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=build_table(store, table, key))
    return benefits_table


benefit_assets = [_benefits_asset(table, deps, key, description)
                  for table, (deps, key, description) in BENEFIT_TABLES.items()]
