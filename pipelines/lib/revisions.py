"""Revisions: every published figure of a rebuilt table that differs from before the rebuild, from what to what."""

from __future__ import annotations

NUMERIC_TYPES = ("DOUBLE", "BIGINT", "INTEGER", "HUGEINT", "DECIMAL(18,3)")


def columns_of(con, table: str) -> list[tuple[str, str]]:
    return con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND NOT internal "
                       "AND database_name = current_database() AND schema_name = 'main' ORDER BY column_index",
                       [table]).fetchall()


def record_revisions(con, table: str, previous: str) -> int:
    """Append to `revisions` every figure of `table` that differs from the copy `previous` taken before its rebuild
    (a corrected or late return); `revised_at` is when the newest submission arrived. Tables keyed by service and
    month, or by service, grain and period (then `month` is the period's start, with its grain and source); the
    count of rows appended."""
    columns = columns_of(con, table)
    names = {name for name, _ in columns}
    if {"service_id", "grain", "period_start", "source", "channel"} <= names:
        return _period_revisions(con, table, previous, columns)
    key = [c for c in ("service_id", "month", "channel") if c in names]
    if key[:2] != ["service_id", "month"]:
        return 0
    before = con.execute("SELECT count(*) FROM revisions").fetchone()[0]
    channel = "old.channel" if "channel" in key else "NULL"
    for column in (name for name, data_type in columns if data_type in NUMERIC_TYPES):
        # names come from the table's own schema, not from data
        con.execute(f"""
            INSERT INTO revisions (table_name, service_id, month, channel, column_name, old_value, new_value,
                                   revised_at)
            SELECT ?, old.service_id, old.month, {channel}, ?, CAST(old.{column} AS DOUBLE),
                CAST(new.{column} AS DOUBLE), (SELECT max(received_at) FROM raw_submissions)
            FROM {previous} AS old LEFT JOIN {table} AS new USING ({", ".join(key)})
            WHERE old.{column} IS DISTINCT FROM new.{column}""", [table, column])
    return con.execute("SELECT count(*) FROM revisions").fetchone()[0] - before


def _period_revisions(con, table: str, previous: str, columns: list[tuple[str, str]]) -> int:
    """A period's figures fill in as the returns of its months arrive, in whatever order runs take them: a figure
    that appears (NULL before) is completion, not a revision; one that changes or disappears is recorded."""
    before = con.execute("SELECT count(*) FROM revisions").fetchone()[0]
    key = "service_id, grain, period_start, source, channel"
    for column in (name for name, data_type in columns if data_type in NUMERIC_TYPES):
        con.execute(f"""
            INSERT INTO revisions BY NAME
            SELECT ? AS table_name, old.service_id, old.period_start AS month, old.channel, ? AS column_name,
                CAST(old.{column} AS DOUBLE) AS old_value, CAST(new.{column} AS DOUBLE) AS new_value,
                (SELECT max(received_at) FROM raw_submissions) AS revised_at, old.grain, old.source
            FROM {previous} AS old LEFT JOIN {table} AS new USING ({key})
            WHERE old.{column} IS NOT NULL AND old.{column} IS DISTINCT FROM new.{column}""", [table, column])
    return con.execute("SELECT count(*) FROM revisions").fetchone()[0] - before
