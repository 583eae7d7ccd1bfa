"""Publishing: KPI tables, quarantine and the catalogue as Parquet and CSV under data/published/.

Files are written to a temporary name and renamed, so a reader never sees half a file; rows are ordered by
key, so the same inputs give byte-identical files.
"""


import hashlib
import os

import dagster as dg

from pipelines.benefits import BENEFIT_TABLES
from pipelines.faults import pause_point
from pipelines.kpis import KPI_TABLES
from pipelines.resources import DataStore

# published name -> (warehouse query, order)
PUBLISHED = {
    **{table: (table, "service_id, month" + (", channel" if table != "kpi_digital_take_up" else ""))
       for table in KPI_TABLES},
    "quarantine": ("quarantine", "return_type, source_file, row_number NULLS FIRST, rule, column_name"),
    "submission_accounting": ("submission_accounting", "return_type, source_file"),
    "service_catalogue": ("stg_service_catalogue", "service_id"),
    "submission_status": ("submission_status", "agency_id, month"),
    **{table: (table, key) for table, (_, key, _) in BENEFIT_TABLES.items()},
}


def publish(store: DataStore) -> dict:
    store.published.mkdir(parents=True, exist_ok=True)
    files = {}
    with store.connect() as con:
        for name, (table, order) in PUBLISHED.items():
            for extension, options in (("parquet", "FORMAT parquet, COMPRESSION zstd"),
                                       ("csv", "FORMAT csv, HEADER true")):
                target = store.published / f"{name}.{extension}"
                temporary = target.with_name(f".{target.name}.tmp")
                query = f"SELECT * FROM {table} ORDER BY {order}"
                if extension == "csv" and table == "stg_service_catalogue":
                    query = (f"SELECT * REPLACE (array_to_string(channels_offered, ';') AS channels_offered) "
                             f"FROM {table} ORDER BY {order}")
                con.execute(f"COPY ({query}) TO '{temporary}' ({options})")
                os.replace(temporary, target)
                pause_point("publish")
                files[target.name] = hashlib.sha256(target.read_bytes()).hexdigest()
    return files


@dg.asset(group_name="publish", kinds={"parquet", "csv"},
          deps=[*KPI_TABLES, "submission_status", "stg_transactions", "stg_costs", "stg_satisfaction", "stg_service_catalogue",
                *BENEFIT_TABLES])
def pub_open_data(store: DataStore) -> dg.MaterializeResult:
    """The open-data files: each KPI table, the quarantine and the service catalogue as Parquet and CSV."""
    files = publish(store)
    return dg.MaterializeResult(metadata={"folder": str(store.published), "files": len(files),
                                          "sha256": dg.MetadataValue.json(files)})
