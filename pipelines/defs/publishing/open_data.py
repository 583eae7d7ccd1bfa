"""Publishing: KPI tables, roll-ups, quarantine and the catalogue as Parquet and CSV under data/published/, with a
data package (datapackage.json, Frictionless Table Schema) describing the CSV files.

Files are written to a temporary name and renamed, so a reader never sees half a file; rows are ordered by
key, so the same inputs give byte-identical files. A table that the catalogue says carries user satisfaction is
published through the disclosure rule of transforms/sql/formulas.sql; CSV cells that a spreadsheet would run as a
formula are neutralised, and control characters in CSV cells are written as \\xNN (the Parquet files keep every
value as sent).

Publishing never shrinks the history: when the warehouse lacks months of the KPI tables that data/published/ has (a
lost or new warehouse, then a run over fewer months than were published), it refuses before writing any file and
names the months and the fix (a run over every landed month, or a restore).
"""


import hashlib
import json
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.lib.config import OpenData
from pipelines.lib.faults import pause_point
from pipelines.lib.files import write_atomically
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore, Settings
from pipelines.lib.warehouse import table_exists
from transforms import SQL_DIR
from transforms.catalogue import CATALOGUE, COLUMNS, Table, published, unit, writers
from transforms.domain import CHANNEL_NAMES

# published name -> (warehouse table, row order), in the catalogue's order
PUBLISHED = {table.publish_as: (table.name, table.published_order) for table in published()}
# The published tables whose months are the history a run must keep: the KPI tables by month.
HISTORY = [table for table in published() if table.stage == "kpis" and "month" in table.key]


def published_query(table: Table) -> str:
    """The query that gives a published table's rows. Where the catalogue names the column counting the responses
    behind a row's satisfaction figures, those figures are withheld below the threshold (formulas.sql) and
    suppression_note says so; the warehouse keeps them whole, for the roll-ups that pool responses."""
    rule = table.satisfaction
    if rule is None or rule.responses is None:
        return f"SELECT * FROM {table.name} ORDER BY {table.published_order}"
    withheld = ", ".join(f"satisfaction_published({c}, {rule.responses}) AS {c}" for c in rule.figures)
    return (f"SELECT * REPLACE ({withheld}), suppression_note({rule.responses}) AS suppression_note "
            f"FROM {table.name} ORDER BY {table.published_order}")


# Control characters other than tab, line feed and carriage return (which CSV quotes), as one class in RE2's escapes:
# a NUL or an escape sent in a cell would reach the CSV raw, and many readers stop or misread there.
CONTROL_CHARACTERS = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"


def money_places(name: str) -> int:
    """Decimals of a money column in CSV: 4 for a cost per transaction (as formulas.sql publishes it), else 2."""
    return 4 if "per_transaction" in name else 2


def csv_column(name: str, duckdb_type: str) -> str:
    """A column as written to CSV: lists joined with ';', timestamps in ISO 8601 UTC, money (GBP) with a fixed number
    of decimals (money_places: never a binary tail such as 13095403.729999999), control characters written as
    \\xNN, and text that a spreadsheet would run as a formula (starting =, +, -, @, tab or carriage return, and not
    a number) prefixed with '."""
    column = f'"{name}"'
    if duckdb_type in ("DOUBLE", "FLOAT") and unit(name) == "GBP":
        return f"CAST({column} AS DECIMAL(38, {money_places(name)})) AS {column}"
    if duckdb_type.startswith("TIMESTAMP"):
        return f"strftime(timezone('UTC', {column}), '%Y-%m-%dT%H:%M:%S.%fZ') AS {column}"
    if duckdb_type.endswith("[]"):
        text = f"array_to_string({column}, ';')"
    elif duckdb_type == "VARCHAR":
        text = column
    else:
        return column
    # a cell with a control character is rewritten a character at a time (one short expression: thirty nested
    # replace() calls took DuckDB 50-80 ms to bind a table's query, most of publishing's time)
    escaped = (f"array_to_string([CASE WHEN regexp_matches(ch, '{CONTROL_CHARACTERS}') THEN format('\\x{{:02x}}', "
               f"ord(ch)) ELSE ch END FOR ch IN string_split({text}, '')], '')")
    text = f"(CASE WHEN regexp_matches({text}, '{CONTROL_CHARACTERS}') THEN {escaped} ELSE {text} END)"
    return (f"CASE WHEN regexp_matches({text}, '^[-=+@\\t\\r]') AND TRY_CAST({text} AS DOUBLE) IS NULL "
            f"THEN '''' || {text} ELSE {text} END AS {column}")


def publish_file(target: Path, write) -> str:
    """Write one published file atomically; its sha256."""
    write_atomically(target, write)
    pause_point("publish")
    return hashlib.sha256(target.read_bytes()).hexdigest()


def months_dropped(con, folder: Path) -> dict[str, list]:
    """Per KPI table, the months data/published/ has that publishing the warehouse now would drop (all of them when
    the warehouse has no such table yet). A published file that cannot be read holds no history to keep."""
    dropped = {}
    for table in HISTORY:
        old = folder / f"{table.publish_as}.parquet"
        if not old.exists():
            continue
        now = f"EXCEPT SELECT month FROM {table.name}" if table_exists(con, table.name) else ""
        try:
            months = con.execute(f"SELECT DISTINCT month FROM read_parquet($old) WHERE month IS NOT NULL {now} "
                                 "ORDER BY 1", {"old": str(old)}).fetchall()
        except duckdb.Error:
            continue
        if months:
            dropped[table.publish_as] = [month for (month,) in months]
    return dropped


def refuse_to_shrink(dropped: dict[str, list], folder: Path) -> None:
    months = sorted({month for lost in dropped.values() for month in lost})
    shown = ", ".join(f"{m:%Y-%m}" for m in months[:6]) + (f" ... {months[-1]:%Y-%m}" if len(months) > 6 else "")
    raise dg.Failure(
        description=f"publishing refused, no file written: the warehouse has no figures for {len(months)} months "
                    f"that {folder}/ publishes ({shown}; in {', '.join(dropped)}), so this run would shrink the open "
                    "data. The warehouse is new or was lost: rebuild every month from the landing files with "
                    "`make run` (python -m pipelines.run without --start/--end), or restore a backup "
                    "(python -m pipelines.housekeeping restore). If those months are meant to go, delete their "
                    "tables' files from the published folder first.",
        metadata={"months_dropped": dg.MetadataValue.json({k: [f"{m:%Y-%m}" for m in v] for k, v in dropped.items()})})


def publish(store: DataStore, open_data: OpenData) -> dict:
    store.published.mkdir(parents=True, exist_ok=True)
    files, tables = {}, {}
    with store.connect() as con:
        dropped = months_dropped(con, store.published)
        if dropped:
            refuse_to_shrink(dropped, store.published)
        for table in published():
            name, query = table.publish_as, published_query(table)
            columns = [(row[0], row[1]) for row in con.execute(f"DESCRIBE {query}").fetchall()]
            csv_query = f"SELECT {', '.join(csv_column(c, t) for c, t in columns)} FROM ({query})"
            for extension, select, options in (("parquet", query, "FORMAT parquet, COMPRESSION zstd"),
                                               ("csv", csv_query, "FORMAT csv, HEADER true")):
                target = store.published / f"{name}.{extension}"
                files[target.name] = publish_file(
                    target, lambda path: con.execute(f"COPY ({select}) TO '{path}' ({options})"))
            tables[name] = columns
    package = json.dumps(data_package(store.published, tables, open_data), indent=2, ensure_ascii=False) + "\n"
    files["datapackage.json"] = publish_file(store.published / "datapackage.json",
                                                  lambda path: path.write_text(package, encoding="utf-8"))
    return files


# Table Schema types of the DuckDB types in published tables, as written to CSV (lists joined into text).
TABLE_SCHEMA_TYPES = {"VARCHAR": "string", "DATE": "date", "BOOLEAN": "boolean", "DOUBLE": "number",
                      "FLOAT": "number", "BIGINT": "integer", "INTEGER": "integer", "HUGEINT": "integer",
                      "UINTEGER": "integer", "UBIGINT": "integer", "SMALLINT": "integer",
                      "TIMESTAMP WITH TIME ZONE": "datetime", "TIMESTAMP": "datetime"}


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


def data_package(folder: Path, tables: dict[str, list[tuple[str, str]]], open_data: OpenData) -> dict:
    """datapackage.json for the published CSV files (config/open_data.yaml describes the package, the catalogue the
    tables and their columns): types, units, descriptions, keys, each channel's name, each table's definition from
    its SQL, the licence.
    Parquet twins hold the same rows."""
    resources = []
    for name, columns in tables.items():
        table = CATALOGUE[PUBLISHED[name][0]]
        fields = []
        for column, duckdb_type in columns:
            described = COLUMNS.get(column)
            field = {"name": column, "type": table_schema_type(duckdb_type),
                     "description": described.description if described else column.replace("_", " ")}
            if unit(column):
                field["unit"] = unit(column)
            if column == "channel":  # Frictionless Table Schema's categories: each value and its name in words
                field["categories"] = [{"value": value, "label": label} for value, label in CHANNEL_NAMES.items()]
            fields.append(field)
        schema = {"fields": fields, "missingValues": [""]}
        if table.key:
            schema["primaryKey"] = list(table.key)
        csv = folder / f"{name}.csv"
        definition = sql_definition(table.name)
        resources.append({
            "name": name, "path": csv.name, "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "title": table.title or name.replace("_", " "), "description": table.description,
            **({"definition": definition} if definition else {}),
            "bytes": csv.stat().st_size, "hash": f"sha256:{hashlib.sha256(csv.read_bytes()).hexdigest()}",
            "parquet": f"{name}.parquet",
            "schema": schema,
        })
    return {**open_data.package.model_dump(exclude_none=True), "resources": resources}


def writers_if_side(table) -> tuple[str, ...]:
    return writers(table.name) if table.build == "side" else ()


@dg.asset(pool=WAREHOUSE_POOL, group_name="publish", kinds={"parquet", "csv"},
          deps=sorted({name for table in published() for name in (table.name, *writers_if_side(table))}))
def pub_open_data(store: DataStore, settings: Settings) -> dg.MaterializeResult:
    """The open-data files: every table whose catalogue entry names it (`publish_as`) as Parquet and CSV, and
    datapackage.json describing them."""
    files = publish(store, settings.config.open_data)
    return dg.MaterializeResult(metadata={"folder": str(store.published), "files": len(files),
                                          "sha256": dg.MetadataValue.json(files)})
