"""The source registry (config/sources.yaml) staged as a table, for due dates and agency names in SQL."""

import dagster as dg

from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from transforms.catalogue import CATALOGUE


def agency_rows(config) -> list[tuple]:
    """The rows of stg_agencies, in its columns' order."""
    first = config.registry.first_month
    return [(a.id, a.name, a.department, a.connector, a.return_due_day, list(a.cadence),
             f"{a.first_month or first}-01") for a in config.agencies]


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", description=CATALOGUE["stg_agencies"].description,
          kinds={"duckdb"})
def stg_agencies(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    rows = agency_rows(settings.config)
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM stg_agencies")
        con.executemany("INSERT INTO stg_agencies VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    return dg.MaterializeResult(metadata={"dagster/row_count": len(rows)})
