"""The one writer of `quarantine` and `submission_accounting` rows, for every stage: staged returns, extracts (DuckDB
and Spark), central files and records, files not recognised or superseded, and ingestion's landing and fetch
problems. Each stage replaces its own slice (what it deletes differs); what it appends goes through `write`.

The tables' columns are stated once, in their DDL (transforms/sql/schema.sql): the Polars schemas here, and each
column's default for rows that leave it out, are read from it. An accounting row that does not add up (macro
`accounting_adds_up`, transforms/sql/formulas.sql) is refused before anything is written; the blocking check
`accounting_adds_up` (pipelines/defs/quality/checks.py) holds the table to the same rule."""

from __future__ import annotations

from functools import cache

import duckdb
import polars as pl

from transforms import sql

QUARANTINE = "quarantine"
ACCOUNTING = "submission_accounting"


class AccountingMismatch(ValueError):
    """Accounting rows whose rows read are not the rows accepted plus the rows quarantined (or with more rows of
    markers only than rows accepted)."""


@cache
def _shapes() -> dict[str, tuple[pl.Schema, str]]:
    """Per table, its Polars schema and the select list that gives each column its DDL default where a row leaves
    it out (absent from the rows, or NULL), as DuckDB reports both from the DDL."""
    with duckdb.connect() as con:
        con.execute(sql("schema"))
        shapes = {}
        for table in (QUARANTINE, ACCOUNTING):
            columns = con.execute("SELECT column_name, column_default FROM duckdb_columns() WHERE table_name = ? "
                                  "ORDER BY column_index", [table]).fetchall()
            shapes[table] = (con.sql(f"SELECT * FROM {table} LIMIT 0").pl().schema,
                             ", ".join(f"coalesce({name}, {default}) AS {name}" if default is not None else name
                                       for name, default in columns))
        return shapes


def schema(table: str) -> pl.Schema:
    """The Polars schema of `quarantine` or `submission_accounting`, as their DDL gives it."""
    return _shapes()[table][0]


def write(con, quarantined=None, accounting=None) -> None:
    """Append quarantine and accounting rows, inside the caller's transaction. Each is a list of dicts, a Polars
    frame, an Arrow table or a DuckDB relation of the same connection, with the table's columns by name (absent ones
    NULL, or their DDL default where it has one). Raises AccountingMismatch, writing nothing, when an accounting row
    does not add up."""
    given = {table: rows for table, rows in ((QUARANTINE, quarantined), (ACCOUNTING, accounting))
             if rows is not None and not (isinstance(rows, list) and not rows)}
    for table, rows in given.items():  # each as a view of the table's shape: absent columns NULL, then defaulted
        con.register(f"{table}_given", pl.DataFrame(rows, schema=schema(table)) if isinstance(rows, list) else rows)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table}_incoming AS SELECT {_shapes()[table][1]} FROM "
                    f"(SELECT * FROM {table} WHERE false UNION ALL BY NAME SELECT * FROM {table}_given)")
    if ACCOUNTING in given:
        wrong = con.execute(f"SELECT source_file, rows_read, rows_accepted, rows_quarantined, rows_markers_only "
                            f"FROM {ACCOUNTING}_incoming WHERE NOT accounting_adds_up(rows_read, rows_accepted, "
                            "rows_quarantined, rows_markers_only)").fetchall()
        if wrong:
            raise AccountingMismatch(f"{len(wrong)} accounting row(s) do not add up (rows read = accepted + "
                                     f"quarantined, markers only among accepted): {wrong[:5]}")
    for table in given:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {table}_incoming")
        con.execute(f"DROP VIEW {table}_incoming")
        con.unregister(f"{table}_given")
