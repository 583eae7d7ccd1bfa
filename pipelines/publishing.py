"""Publishing: KPI tables, roll-ups, quarantine and the catalogue as Parquet and CSV under data/published/, with a
data package (datapackage.json, Frictionless Table Schema) describing the CSV files.

Files are written to a temporary name and renamed, so a reader never sees half a file; rows are ordered by
key, so the same inputs give byte-identical files. A table with a transforms/sql/pub_<name>.sql is published
through that query (disclosure rules); CSV cells that a spreadsheet would run as a formula are neutralised.
"""


import hashlib
import json
import os
from pathlib import Path

import dagster as dg
import yaml

from pipelines.benefits import BENEFIT_TABLES
from pipelines.faults import pause_point
from pipelines.kpis import KPI_TABLES
from pipelines.registry import CONFIG_DIR
from pipelines.resources import WAREHOUSE_POOL, DataStore
from transforms import SQL_DIR, sql

# Satisfaction from fewer responses than this is suppressed in published data (README, "Dashboards and open data").
SATISFACTION_MIN_RESPONSES = 30

# published name -> (warehouse query, order)
PUBLISHED = {
    **{table: (table, "service_id, month" + (", channel" if table != "kpi_digital_take_up" else ""))
       for table in KPI_TABLES},
    "kpi_by_period": ("kpi_by_period", "service_id, grain, period_start, source, channel"),
    "quarantine": ("quarantine", "return_type, source_file, row_number NULLS FIRST, rule, column_name"),
    "submission_accounting": ("submission_accounting", "return_type, source_file"),
    "service_catalogue": ("stg_service_catalogue", "service_id"),
    "kpi_rollups": ("kpi_rollups", "level, group_id, month, kpi_order"),
    "kpi_service_summary": ("kpi_service_summary", "service_id"),
    "submission_status": ("submission_status", "agency_id, month"),
    "satisfaction_method_drift": ("satisfaction_method_drift", "service_id, channel, month"),
    "revisions": ("revisions", "revised_at, table_name, service_id, month, channel NULLS FIRST, column_name"),
    **{table: (table, key) for table, (_, key, _) in BENEFIT_TABLES.items()},
}


def published_query(name: str, table: str, order: str) -> tuple[str, dict]:
    """The query that gives a published table's rows, and its bound parameters."""
    if (SQL_DIR / f"pub_{name}.sql").exists():
        return (f"SELECT * FROM ({sql('pub_' + name)}) ORDER BY {order}",
                {"min_responses": SATISFACTION_MIN_RESPONSES})
    return f"SELECT * FROM {table} ORDER BY {order}", {}


def csv_column(name: str, duckdb_type: str) -> str:
    """A column as written to CSV: lists joined with ';', timestamps in ISO 8601 UTC, and text that a spreadsheet
    would run as a formula (starting =, +, -, @, tab or carriage return, and not a number) prefixed with '."""
    column = f'"{name}"'
    if duckdb_type.startswith("TIMESTAMP"):
        return f"strftime(timezone('UTC', {column}), '%Y-%m-%dT%H:%M:%S.%fZ') AS {column}"
    if duckdb_type.endswith("[]"):
        text = f"array_to_string({column}, ';')"
    elif duckdb_type == "VARCHAR":
        text = column
    else:
        return column
    return (f"CASE WHEN regexp_matches({text}, '^[-=+@\\t\\r]') AND TRY_CAST({text} AS DOUBLE) IS NULL "
            f"THEN '''' || {text} ELSE {text} END AS {column}")


def write_atomically(target: Path, write) -> str:
    temporary = target.with_name(f".{target.name}.tmp")
    write(temporary)
    os.replace(temporary, target)
    pause_point("publish")
    return hashlib.sha256(target.read_bytes()).hexdigest()


def publish(store: DataStore) -> dict:
    store.published.mkdir(parents=True, exist_ok=True)
    files, tables = {}, {}
    with store.connect() as con:
        for name, (table, order) in PUBLISHED.items():
            query, params = published_query(name, table, order)
            columns = [(row[0], row[1]) for row in con.execute(f"DESCRIBE {query}", params).fetchall()]
            csv_query = f"SELECT {', '.join(csv_column(c, t) for c, t in columns)} FROM ({query})"
            for extension, select, options in (("parquet", query, "FORMAT parquet, COMPRESSION zstd"),
                                               ("csv", csv_query, "FORMAT csv, HEADER true")):
                target = store.published / f"{name}.{extension}"
                files[target.name] = write_atomically(
                    target, lambda path: con.execute(f"COPY ({select}) TO '{path}' ({options})", params))
            tables[name] = columns
    package = json.dumps(data_package(store.published, tables), indent=2, ensure_ascii=False) + "\n"
    files["datapackage.json"] = write_atomically(store.published / "datapackage.json",
                                                  lambda path: path.write_text(package, encoding="utf-8"))
    return files


# Table Schema types of the DuckDB types in published tables, as written to CSV (lists joined into text).
TABLE_SCHEMA_TYPES = {"VARCHAR": "string", "DATE": "date", "BOOLEAN": "boolean", "DOUBLE": "number",
                      "FLOAT": "number", "BIGINT": "integer", "INTEGER": "integer", "HUGEINT": "integer",
                      "UINTEGER": "integer", "UBIGINT": "integer", "SMALLINT": "integer",
                      "TIMESTAMP WITH TIME ZONE": "datetime", "TIMESTAMP": "datetime"}


# A column's unit when config/open_data.yaml names none: the unit is in the name (STYLE: cost_gbp, ..._rate).
UNIT_SUFFIXES = (("_gbp", "GBP"), ("_pp", "percentage points"), ("_pct", "percent"), ("_percent", "percent"),
                 ("_rate", "0..1"), ("_share", "0..1"), ("_seconds", "seconds"))


def table_schema_type(duckdb_type: str) -> str:
    if duckdb_type.endswith("[]"):
        return "string"
    if duckdb_type.startswith("DECIMAL"):
        return "number"
    return TABLE_SCHEMA_TYPES.get(duckdb_type, "any")  # a type not listed is still published, described as any


def sql_definition(table: str) -> str | None:
    """The definition at the top of a table's SQL file: its leading comment lines, as they are worded there."""
    path = SQL_DIR / f"{table}.sql"
    if not path.exists():
        return None
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return "\n".join(lines)


def data_package(folder: Path, tables: dict[str, list[tuple[str, str]]]) -> dict:
    """datapackage.json for the published CSV files (config/open_data.yaml describes the tables and fields): types,
    units, descriptions, keys, each table's definition from its SQL, the licence. Parquet twins hold the same rows."""
    meta = yaml.safe_load((CONFIG_DIR / "open_data.yaml").read_text(encoding="utf-8"))
    resources = []
    for name, columns in tables.items():
        table_meta = meta["tables"].get(name, {})
        fields = []
        for column, duckdb_type in columns:
            field_meta = meta["fields"].get(column, {})
            field = {"name": column, "type": table_schema_type(duckdb_type),
                     "description": field_meta.get("description", column.replace("_", " "))}
            unit = field_meta.get("unit") or next((u for suffix, u in UNIT_SUFFIXES if column.endswith(suffix)), None)
            if unit:
                field["unit"] = unit
            fields.append(field)
        schema = {"fields": fields, "missingValues": [""]}
        if table_meta.get("primary_key"):
            schema["primaryKey"] = table_meta["primary_key"]
        csv = folder / f"{name}.csv"
        definition = sql_definition(PUBLISHED[name][0])
        description = (table_meta.get("description") or (KPI_TABLES[name][1] if name in KPI_TABLES else None)
                       or (definition or name.replace("_", " ")).split("\n")[0])
        resources.append({
            "name": name, "path": csv.name, "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "title": table_meta.get("title", name.replace("_", " ")), "description": description,
            **({"definition": definition} if definition else {}),
            "bytes": csv.stat().st_size, "hash": f"sha256:{hashlib.sha256(csv.read_bytes()).hexdigest()}",
            "parquet": f"{name}.parquet",
            "schema": schema,
        })
    return {**meta["package"], "resources": resources}


@dg.asset(pool=WAREHOUSE_POOL, group_name="publish", kinds={"parquet", "csv"},
          deps=[*KPI_TABLES, "kpi_rollups", "kpi_service_summary", "submission_status", "satisfaction_method_drift", "stg_transactions", "stg_costs", "stg_satisfaction", "stg_service_catalogue",
                *BENEFIT_TABLES])
def pub_open_data(store: DataStore) -> dg.MaterializeResult:
    """The open-data files: each KPI table, the roll-ups, the quarantine and the catalogue as Parquet and CSV, and
    datapackage.json describing them."""
    files = publish(store)
    return dg.MaterializeResult(metadata={"folder": str(store.published), "files": len(files),
                                          "sha256": dg.MetadataValue.json(files)})
