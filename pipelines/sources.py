"""Sources: the registry in the warehouse, per agency x month submission status and its freshness check, and
the sensor that notices new or changed submissions."""

import hashlib
import json
import re

import dagster as dg

from pipelines.ingestion import landed_files
from pipelines.partitions import AGENCIES_TAG, monthly

from pipelines.registry import load_registry
from pipelines.resources import WAREHOUSE_POOL, DataStore
from transforms import sql

MONTH_FOLDER = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", kinds={"duckdb"})
def stg_agencies(store: DataStore) -> dg.MaterializeResult:
    """The source registry (config/sources.yaml) as a table: names, departments, connectors, due days."""
    rows = [(a.id, a.name, a.department, a.connector, a.return_due_day) for a in load_registry().agencies]
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM stg_agencies")
        con.executemany("INSERT INTO stg_agencies VALUES (?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    return dg.MaterializeResult(metadata={"agencies": len(rows)})


@dg.asset(pool=WAREHOUSE_POOL, group_name="quality", deps=["raw_agency_returns", "raw_api_returns", stg_agencies], kinds={"duckdb"})
def submission_status(store: DataStore) -> dg.MaterializeResult:
    """Per agency and month: received on time, late, missing or not yet due."""
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TABLE submission_status AS {sql('submission_status')}")
        con.execute("COMMIT")
        counts = dict(con.execute("SELECT status, count(*) FROM submission_status GROUP BY status").fetchall())
    return dg.MaterializeResult(metadata={"status": dg.MetadataValue.json(counts)})


@dg.asset_check(pool=WAREHOUSE_POOL, asset=submission_status, name="returns_on_time",
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


def _fingerprints(store: DataStore, seen: dict) -> dict[str, list]:
    """[size, mtime_ns, sha256] of every landed file; a file whose size and time are unchanged keeps its
    checksum from `seen`, so only new or touched files are read."""
    current = {}
    for path in landed_files(store, store.landing) if store.landing.is_dir() else []:
        key = path.relative_to(store.landing).as_posix()
        stat = path.stat()
        previous = seen.get(key)
        if previous and previous[:2] == [stat.st_size, stat.st_mtime_ns]:
            current[key] = previous
        else:
            current[key] = [stat.st_size, stat.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()]
    return current


@dg.sensor(job_name="monthly_cycle", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def submission_sensor(context: dg.SensorEvaluationContext, store: DataStore):
    """New or changed submissions start a run of just the months and agencies they affect. An identical
    resubmission (same checksum) starts nothing. A changed catalogue, register or record file affects every
    month, so it starts one run over all months with returns."""
    seen = json.loads(context.cursor) if context.cursor else {}
    current = _fingerprints(store, seen)
    changed = sorted(k for k, v in current.items() if seen.get(k, [None] * 3)[2] != v[2])
    folders = {a.folder: a for a in load_registry().agencies}
    last_partition = monthly.get_last_partition_key()
    by_month, whole = {}, False
    for key in changed:
        parts = key.split("/")
        agency = folders.get(parts[0])
        if agency and len(parts) > 2 and MONTH_FOLDER.fullmatch(parts[1]) and agency.connector == "file_drop":
            month = f"{parts[1]}-01"
            if month > last_partition:
                context.log.warning(f"{key}: month {parts[1]} has not ended yet; it will run once it has")
                current.pop(key)  # seen again next month
                continue
            by_month.setdefault(month, set()).add(agency.id)
        else:
            whole = True
    months = sorted({f"{p.name}-01" for p in store.landing.glob("*/*") if MONTH_FOLDER.fullmatch(p.name)}
                    | set(by_month))
    months = [m for m in months if m <= last_partition]
    checksums = [current[k][2] for k in changed if k in current]
    digest = hashlib.sha256(json.dumps(checksums).encode()).hexdigest()[:16]  # a run per distinct change
    if whole and months:
        yield dg.RunRequest(run_key=f"all:{digest}", tags={"dagster/asset_partition_range_start": months[0],
                                                           "dagster/asset_partition_range_end": months[-1]})
    else:
        for month, agencies in sorted(by_month.items()):
            yield dg.RunRequest(run_key=f"{month}:{','.join(sorted(agencies))}:{digest}", partition_key=month,
                                tags={AGENCIES_TAG: ",".join(sorted(agencies))})
    context.update_cursor(json.dumps(current, sort_keys=True))
