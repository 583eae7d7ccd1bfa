"""Facts: one row per service x month x channel, and per service x month, for the months of the run."""


import dagster as dg

from pipelines.partitions import monthly
from pipelines.resources import WAREHOUSE_POOL, DataStore
from transforms import sql


def build_fact(store: DataStore, table: str, start, end) -> dict:
    """Replace the months [start, end) of a fact table with transforms/sql/<table>.sql, in one transaction."""
    with store.connect() as con:
        query = sql(table)
        con.execute("BEGIN")
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM ({query}) LIMIT 0",
                    {"start": start, "end": end})
        con.execute(f"DELETE FROM {table} WHERE month >= $start AND month < $end", {"start": start, "end": end})
        con.execute(f"INSERT INTO {table} {query}", {"start": start, "end": end})
        con.execute("COMMIT")
        rows = con.execute(f"SELECT count(*) FROM {table} WHERE month >= $start AND month < $end",
                           {"start": start, "end": end}).fetchone()[0]
        preview = con.execute(f"SELECT * FROM {table} WHERE month >= $start AND month < $end LIMIT 5",
                              {"start": start, "end": end}).df()
    return {"rows_in_run": rows, "preview": dg.MetadataValue.md(preview.to_markdown(index=False))}


def _fact_asset(table: str, deps: list[str], description: str):
    @dg.asset(pool=WAREHOUSE_POOL, name=table, group_name="facts", partitions_def=monthly, deps=deps, description=description,
              backfill_policy=dg.BackfillPolicy.single_run(), kinds={"duckdb"})
    def fact(context: dg.AssetExecutionContext, store: DataStore) -> dg.MaterializeResult:
        window = context.partition_time_window
        return dg.MaterializeResult(metadata=build_fact(store, table, window.start.date(), window.end.date()))
    return fact


fct_service_month_channel = _fact_asset(
    "fct_service_month_channel", ["stg_transactions", "stg_costs", "stg_satisfaction", "stg_reported_figures",
                                  "stg_extract_transactions", "stg_service_catalogue"],
    "One row per service x month x offered channel: volumes, costs (direct + apportioned shared), rating counts.")
fct_service_month = _fact_asset(
    "fct_service_month", ["fct_service_month_channel", "stg_costs"],
    "One row per service x month: whole-service volumes and costs, and which channels were not provided.")
