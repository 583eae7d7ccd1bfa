"""The asset factory: one Dagster asset per catalogue table built by SQL, its dependencies read from that SQL."""

import dagster as dg

from pipelines.lib.faults import pause_point
from pipelines.lib.partitions import freshness_policy, monthly
from pipelines.lib.resources import DataStore
from pipelines.lib.revisions import record_revisions
from pipelines.lib.suites import built_then_checked, table_step
from pipelines.lib.warehouse import preview, rebuild_table, replace_months, table_exists
from transforms import sql
from transforms.catalogue import TABLES, Table, by_stage, upstream


def build_table(con, table: Table) -> dict:
    """Rebuild a whole table from its SQL in one transaction (recording revisions when the catalogue says so)."""
    query = sql(table.name)
    con.execute("BEGIN")
    existed = table.revisions and table_exists(con, table.name)
    if existed:
        con.execute(f"CREATE OR REPLACE TEMP TABLE previous_figures AS SELECT * FROM {table.name}")
    rows = rebuild_table(con, table.name, query)
    revised = record_revisions(con, table.name, "previous_figures") if existed else 0
    if table.stage == "kpis":
        pause_point("kpi")
    con.execute("COMMIT")
    metadata = {"dagster/row_count": rows,
                "preview": dg.MetadataValue.md(preview(con, f"SELECT * FROM {table.name} ORDER BY "
                                                            f"{table.published_order or 'ALL'}"))}
    return {**metadata, "figures_revised": revised} if table.revisions else metadata


def build_months(con, table: Table, start, end) -> dict:
    """Replace the months [start, end) of a table from its SQL in one transaction."""
    con.execute("BEGIN")
    rows = replace_months(con, table.name, sql(table.name), start, end)
    con.execute("COMMIT")
    return {"dagster/row_count": rows, "preview": dg.MetadataValue.md(preview(
        con, f"SELECT * FROM {table.name} WHERE month >= $start AND month < $end", {"start": start, "end": end}))}


def table_asset(table: Table) -> dg.AssetsDefinition:
    """The table's step: built by its SQL, then its suite when one guards it (pipelines/lib/suites.py)."""
    step = table_step(table, deps=upstream(table), kinds={"duckdb"}, freshness_policy=freshness_policy(table.freshness))
    if table.build == "months":
        @dg.multi_asset(**step, partitions_def=monthly, backfill_policy=dg.BackfillPolicy.single_run())
        def monthly_table(context: dg.AssetExecutionContext, store: DataStore):
            def build() -> dict:
                window = context.partition_time_window
                with store.connect() as con:
                    return build_months(con, table, window.start.date(), window.end.date())
            yield from built_then_checked(context, store, table, build)
        return monthly_table

    @dg.multi_asset(**step)
    def whole_table(context: dg.AssetExecutionContext, store: DataStore):
        def build() -> dict:
            with store.connect() as con:
                return build_table(con, table)
        yield from built_then_checked(context, store, table, build)
    return whole_table


def table_assets(stage: str) -> list[dg.AssetsDefinition]:
    """The assets of a stage's SQL-built tables, in catalogue order."""
    return [table_asset(table) for table in by_stage(stage) if table.build in ("sql", "months")]


def side_table_specs() -> list[dg.AssetSpec]:
    """The side tables several assets write (raw_submissions, quarantine, accounting, revisions), as asset specs so
    the lineage shows them, each after the assets that write it."""
    return [dg.AssetSpec(t.name, group_name=t.stage, description=t.description, deps=upstream(t), kinds={"duckdb"})
            for t in TABLES if t.build == "side"]
