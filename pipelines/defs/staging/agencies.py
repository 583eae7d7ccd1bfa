"""The source registry (config/sources.yaml) staged as a table, for due dates and agency names in SQL."""

import dagster as dg

from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from transforms.catalogue import CATALOGUE


def insert_agencies(con, config) -> int:
    """Insert the registry's agencies into stg_agencies (the run and the preview do); how many."""
    first = config.registry.first_month
    rows = [(a.id, a.name, a.department, a.connector, a.return_due_day, list(a.cadence),
             f"{a.first_month or first}-01", a.year_end_month) for a in config.agencies]
    con.executemany("INSERT INTO stg_agencies VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", description=CATALOGUE["stg_agencies"].description,
          kinds={"duckdb"})
def stg_agencies(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM stg_agencies")
        rows = insert_agencies(con, settings.config)
        con.execute("COMMIT")
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})
