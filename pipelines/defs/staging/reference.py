"""Staged central files, each read whole: the service catalogue and the benefits register."""

import dagster as dg

from pipelines.defs.staging.accounting import stage_whole_files
from pipelines.lib.files import CENTRAL_FILES
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from pipelines.lib.warehouse import current_file
from transforms.catalogue import CATALOGUE, upstream
from transforms.reference import validate_benefits, validate_catalogue


def stage_reference(store: DataStore, settings: Settings, name: str, validator, table: str) -> dict:
    """Stage a central file (catalogue or benefits register) as a whole."""
    with store.connect() as con:
        current = current_file(con, CENTRAL_FILES[name])
    files = [] if current is None else [(current[0], current[1], None, current[4])]
    return stage_whole_files(store, name, files, lambda frame, con, _: validator(frame, con), table,
                             settings.config.limits.files)


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", deps=upstream(CATALOGUE["stg_service_catalogue"]),
          description=CATALOGUE["stg_service_catalogue"].description, kinds={"duckdb", "polars"})
def stg_service_catalogue(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    agency_ids = [a.id for a in settings.config.agencies]
    return dg.MaterializeResult(metadata=stage_reference(
        store, settings, "service_catalogue", lambda frame, con: validate_catalogue(frame, agency_ids),
        "stg_service_catalogue"))


@dg.asset(pool=WAREHOUSE_POOL, group_name="staging", deps=upstream(CATALOGUE["stg_benefits_register"]),
          description=CATALOGUE["stg_benefits_register"].description, kinds={"duckdb", "polars"})
def stg_benefits_register(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    def validator(frame, con):
        services = [r[0] for r in con.execute("SELECT service_id FROM stg_service_catalogue").fetchall()]
        return validate_benefits(frame, services)
    return dg.MaterializeResult(metadata=stage_reference(store, settings, "benefits_register", validator,
                                                         "stg_benefits_register"))
