"""Staged Performance-Platform records (connector `performance_platform`): JSON files of monthly figures that span
many months, staged whole into `stg_reported_figures`, one row per service x month x channel x measure."""

import dagster as dg
import polars as pl

from pipelines.defs.staging.accounting import stage_whole_files
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from transforms.catalogue import CATALOGUE, upstream
from transforms.records import validate_records


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", deps=upstream(CATALOGUE["stg_reported_figures"]),
          description=CATALOGUE["stg_reported_figures"].description, kinds={"duckdb", "polars"})
def stg_reported_figures(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    config = settings.config
    agencies = {a.id: a for a in config.agencies if a.connector == "performance_platform"}
    with store.connect() as con:
        catalogue = con.sql("SELECT service_id, agency_id FROM stg_service_catalogue").pl()
        files = [row for row in con.execute(
            "SELECT source_path, sha256, agency_id, archive_path FROM current_submissions "
            "WHERE month IS NULL AND agency_id IS NOT NULL ORDER BY source_path").fetchall() if row[2] in agencies]

    def validator(frame, con, agency_id):
        accepted, failed = validate_records(frame, config.mapping(agencies[agency_id]).records, agency_id, catalogue)
        return accepted.with_columns(pl.lit(agency_id).alias("agency_id")), failed

    return dg.MaterializeResult(metadata=stage_whole_files(store, "performance_records", files, validator,
                                                           "stg_reported_figures"))
