"""KPI marts: each rebuilt whole from the facts by its SQL file in transforms/sql (the formula's one home).

They are small (services x months x channels) and rolling windows and baselines reach across months, so a
whole rebuild is both the simplest and the always-correct choice.
"""


import dagster as dg

from pipelines.faults import pause_point
from pipelines.resources import WAREHOUSE_POOL, DataStore
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
    "kpi_by_period": (["stg_transactions", "stg_costs", "stg_satisfaction", "fct_service_month_channel",
                       "fct_service_month"],
                      "The KPIs at the grain agencies sent (quarter, financial year, 12 months) and monthly figures "
                      "rolled up to quarters and financial years."),
    "kpi_processing_time": (["stg_extract_transactions"],
                            "Time to complete (median and 90th percentile, seconds) per service, month and channel, "
                            "from transaction-level extracts."),
}


def record_revisions(con, table: str) -> int:
    """Append to `revisions` every published figure of `table` that differs from before this rebuild (a corrected
    or late return), from what to what; `revised_at` is when the newest submission arrived."""
    columns = [c for c, t in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND NOT internal "
        "AND database_name = current_database() AND schema_name = 'main'",
        [table]).fetchall() if t in ("DOUBLE", "BIGINT", "INTEGER", "HUGEINT", "DECIMAL(18,3)")]
    names = {c for c, in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND "
                                     "database_name = current_database() AND schema_name = 'main'", [table]).fetchall()}
    key = [c for c in ("service_id", "month", "channel") if c in names]
    if key[:2] != ["service_id", "month"]:
        return 0
    before = con.execute("SELECT count(*) FROM revisions").fetchall()[0][0]
    channel = "old.channel" if "channel" in key else "NULL"
    for column in columns:  # names come from the table's own schema, not from data
        con.execute(f"""
            INSERT INTO revisions
            SELECT ?, old.service_id, old.month, {channel}, ?, CAST(old.{column} AS DOUBLE),
                CAST(new.{column} AS DOUBLE), (SELECT max(received_at) FROM raw_submissions)
            FROM previous_kpi AS old LEFT JOIN {table} AS new USING ({", ".join(key)})
            WHERE old.{column} IS DISTINCT FROM new.{column}""", [table, column])
    return con.execute("SELECT count(*) FROM revisions").fetchall()[0][0] - before


def build_kpi(store: DataStore, table: str) -> dict:
    with store.connect() as con:
        con.execute("BEGIN")
        existed = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchall()[0][0]
        if existed:
            con.execute(f"CREATE OR REPLACE TEMP TABLE previous_kpi AS SELECT * FROM {table}")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql(table)}")
        revised = record_revisions(con, table) if existed else 0
        pause_point("kpi")
        con.execute("COMMIT")
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        preview = con.execute(f"SELECT * FROM {table} LIMIT 5").df()
    return {"dagster/row_count": rows, "figures_revised": revised, "preview": dg.MetadataValue.md(preview.to_markdown(index=False))}


def _kpi_asset(table: str, deps: list[str], description: str):
    @dg.asset(pool=WAREHOUSE_POOL, name=table, group_name="kpis", deps=deps, description=description, kinds={"duckdb"})
    def kpi(store: DataStore) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=build_kpi(store, table))
    return kpi


kpi_assets = [_kpi_asset(table, deps, description) for table, (deps, description) in KPI_TABLES.items()]
