"""Performance-Platform records (connector `performance_platform`): JSON files of monthly figures that span many
months, dropped at data/landing/<agency folder>/*.json. Archived whole, staged whole into
`stg_reported_figures`, and used to check which satisfaction method a publisher's percentage follows."""

import polars as pl
import dagster as dg

from pipelines.ingestion import archive_all, landed_files
from pipelines.registry import load_registry
from pipelines.resources import WAREHOUSE_POOL, DataStore
from pipelines.staging import stage_whole_files
from transforms import sql
from transforms.records import validate_records


def _record_agencies():
    return [a for a in load_registry().agencies if a.connector == "performance_platform"]


@dg.asset(pool=WAREHOUSE_POOL, group_name="raw", kinds={"duckdb"})
def raw_performance_records(store: DataStore) -> dg.MaterializeResult:
    """Performance-Platform record files, archived unchanged (they cover many months, so they are not monthly)."""
    files = [(path, agency.id, None) for agency in _record_agencies()
             if (store.landing / agency.folder).is_dir()
             for path in landed_files(store, store.landing / agency.folder)]
    return dg.MaterializeResult(metadata=archive_all(store, files, source="performance_platform"))


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", deps=[raw_performance_records, "stg_service_catalogue"], kinds={"duckdb", "polars"})
def stg_reported_figures(store: DataStore) -> dg.MaterializeResult:
    """Figures from Performance-Platform records, one row per service x month x channel x measure."""
    registry = load_registry()
    agencies = {a.id: a for a in _record_agencies()}
    with store.connect() as con:
        catalogue = con.sql("SELECT service_id, agency_id FROM stg_service_catalogue").pl()
        files = [row for row in con.execute(
            "SELECT source_path, sha256, agency_id, archive_path FROM current_submissions "
            "WHERE month IS NULL AND agency_id IS NOT NULL ORDER BY source_path").fetchall() if row[2] in agencies]

    def validator(frame, con, agency_id):
        mapping = registry.mappings[agencies[agency_id].mapping]["records"]
        accepted, failed = validate_records(frame, mapping, agency_id, catalogue)
        return accepted.with_columns(pl.lit(agency_id).alias("agency_id")), failed

    return dg.MaterializeResult(metadata=stage_whole_files(store, "performance_records", files, validator,
                                                           "stg_reported_figures"))


@dg.asset(pool=WAREHOUSE_POOL, group_name="quality", deps=[stg_reported_figures], kinds={"duckdb"})
def satisfaction_method_drift(store: DataStore) -> dg.MaterializeResult:
    """Which method (GOV.UK score or top-2-box) each reported satisfaction percentage follows, month by month."""
    with store.connect() as con:
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TABLE satisfaction_method_drift AS {sql('satisfaction_method_drift')}")
        con.execute("COMMIT")
        changes = con.execute("SELECT service_id, channel, month, reported_method FROM satisfaction_method_drift "
                              "WHERE method_changed ORDER BY service_id, month").fetchall()
        rows = con.execute("SELECT count(*) FROM satisfaction_method_drift").fetchall()[0][0]
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "method_changes": dg.MetadataValue.json(
        [{"service_id": s, "channel": c, "month": m.isoformat(), "now": n} for s, c, m, n in changes])})
