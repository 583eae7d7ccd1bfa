"""Where the data lives: one resource naming the data folder, from which every path is derived."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb

from transforms import sql

# Files DuckDB 1.4 can open (Evidence and the DuckDB CLI bundle older versions than the Python wheel).
DUCKDB_CONFIG = {"storage_compatibility_version": "v1.4.0"}
# DuckDB lets one process at a time open the warehouse file: every step that opens it (or reads what it published)
# is in this Dagster pool, limited to one slot in the production instance (config/dagster-postgres.yaml).
WAREHOUSE_POOL = "warehouse"


class DataStore(dg.ConfigurableResource):
    """data_dir holds landing/ (inputs), archive/ (raw copies), warehouse.duckdb and published/."""

    data_dir: str = "data"

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the warehouse with its tables in place. One writer at a time (DuckDB's rule)."""
        self.root.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.warehouse), config=DUCKDB_CONFIG)
        con.execute("SET TimeZone = 'UTC'")  # published timestamps must not depend on the machine's zone
        try:
            con.execute(sql("schema"))
            con.execute(sql("formulas"))
            yield con
        finally:
            con.close()


def data_store_from_env() -> DataStore:
    return DataStore(data_dir=os.environ.get("PIPELINE_DATA_DIR", "data"))
