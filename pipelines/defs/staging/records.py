"""Staged Performance-Platform records (connector `performance_platform`): JSON files of monthly figures that span
many months, staged whole into `stg_reported_figures`, one row per service x month x channel x measure."""

import dagster as dg
import polars as pl

from pipelines.defs.staging.accounting import stage_whole_files
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from pipelines.lib.warehouse import submissions_in_force
from transforms.catalogue import CATALOGUE, upstream
from transforms.records import validate_records


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", deps=upstream(CATALOGUE["stg_reported_figures"]),
          description=CATALOGUE["stg_reported_figures"].description, kinds={"duckdb", "polars"})
def stg_reported_figures(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    config = settings.config
    agencies = {a.id: a for a in config.agencies if a.connector == "performance_platform"}
    with store.connect() as con:
        catalogue = con.sql("SELECT service_id, agency_id FROM stg_service_catalogue").pl()
        files = sorted((s.source_path, s.sha256, s.agency_id, s.archive_path) for s in submissions_in_force(con)
                       if s.month is None and s.agency_id in agencies)

    def validator(frame, con, agency_id):
        accepted, failed = validate_records(frame, config.mapping(agencies[agency_id]).records, agency_id, catalogue)
        return accepted.with_columns(pl.lit(agency_id).alias("agency_id")), failed

    return dg.MaterializeResult(metadata=stage_whole_files(store, "performance_records", files, validator,
                                                           "stg_reported_figures",
                                                           storage=config.registry.spark.storage))
