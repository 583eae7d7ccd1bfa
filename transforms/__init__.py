"""Transforms: SQL files (DuckDB dialect) and pure Polars functions. No Dagster, no I/O beyond reading SQL and the
catalogue's columns.yaml."""

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"


@cache
def sql(name: str) -> str:
    """The text of transforms/sql/<name>.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
