"""Sources: the registry in the warehouse, per agency x month submission status, and its freshness check."""

import dagster as dg

from pipelines.registry import load_registry
from pipelines.resources import DataStore
from transforms import sql


@dg.asset(group_name="staging", kinds={"duckdb"})
def stg_agencies(store: DataStore) -> dg.MaterializeResult:
    """The source registry (config/sources.yaml) as a table: names, departments, connectors, due days."""
    rows = [(a.id, a.name, a.department, a.connector, a.return_due_day) for a in load_registry().agencies]
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM stg_agencies")
        con.executemany("INSERT INTO stg_agencies VALUES (?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    return dg.MaterializeResult(metadata={"agencies": len(rows)})


@dg.asset(group_name="quality", deps=["raw_agency_returns", stg_agencies], kinds={"duckdb"})
def submission_status(store: DataStore) -> dg.MaterializeResult:
    """Per agency and month: received on time, late, missing or not yet due."""
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TABLE submission_status AS {sql('submission_status')}")
        con.execute("COMMIT")
        counts = dict(con.execute("SELECT status, count(*) FROM submission_status GROUP BY status").fetchall())
    return dg.MaterializeResult(metadata={"status": dg.MetadataValue.json(counts)})


@dg.asset_check(asset=submission_status, name="returns_on_time",
                description="Warns about agency returns that are missing or arrived after their due date.")
def returns_on_time(store: DataStore) -> dg.AssetCheckResult:
    with store.connect() as con:
        problems = con.execute("SELECT agency_id, month, status, due_date FROM submission_status "
                               "WHERE status IN ('missing', 'late') ORDER BY status, agency_id, month").fetchall()
    counts = {s: sum(1 for p in problems if p[2] == s) for s in ("missing", "late")}
    return dg.AssetCheckResult(
        passed=not problems, severity=dg.AssetCheckSeverity.WARN,
        metadata={**counts, "examples": dg.MetadataValue.json(
            [{"agency_id": a, "month": m.isoformat(), "status": s, "due_date": d.isoformat()}
             for a, m, s, d in problems[:10]])})
