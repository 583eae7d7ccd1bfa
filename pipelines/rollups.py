"""Roll-ups for the dashboards and the open data: KPIs for government, departments and agencies with coverage and
like-for-like change, and one summary row per service. Both rebuilt whole from the KPI marts by their SQL files."""


import dagster as dg
import pandas as pd

from pipelines.publishing import SATISFACTION_MIN_RESPONSES
from pipelines.registry import load_registry
from pipelines.resources import WAREHOUSE_POOL, DataStore
from transforms import sql

KPI_MARTS = ["kpi_cost_per_transaction", "kpi_digital_take_up", "kpi_completion_rate", "kpi_user_satisfaction"]


def build_rollup(store: DataStore, table: str) -> dict:
    # Agency names come from the source registry (config/sources.yaml); the catalogue holds only their ids.
    registry_agencies = pd.DataFrame([(a.id, a.name) for a in load_registry().agencies],
                                     columns=["agency_id", "agency_name"])
    with store.connect() as con:
        con.register("registry_agencies", registry_agencies)
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql(table)}", {"min_responses": SATISFACTION_MIN_RESPONSES})
        con.execute("COMMIT")
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        preview = con.execute(f"SELECT * FROM {table} LIMIT 5").df()
    return {"dagster/row_count": rows, "preview": dg.MetadataValue.md(preview.to_markdown(index=False))}


@dg.asset(pool=WAREHOUSE_POOL, group_name="kpis", deps=[*KPI_MARTS, "stg_service_catalogue"], kinds={"duckdb"})
def kpi_rollups(store: DataStore) -> dg.MaterializeResult:
    """Each KPI per month for government, each department and each agency: volume-weighted, with coverage and the
    like-for-like change against the previous month."""
    return dg.MaterializeResult(metadata=build_rollup(store, "kpi_rollups"))


@dg.asset(pool=WAREHOUSE_POOL, group_name="kpis", deps=[*KPI_MARTS, "stg_service_catalogue"], kinds={"duckdb"})
def kpi_service_summary(store: DataStore) -> dg.MaterializeResult:
    """One row per service: its KPIs in the latest month and the change over 12 months."""
    return dg.MaterializeResult(metadata=build_rollup(store, "kpi_service_summary"))
