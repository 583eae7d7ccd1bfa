"""Where the data lives: one Dagster resource naming the data folder, from which every path is derived."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg

from pipelines.lib import warehouse

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
    def connect(self) -> Iterator:
        """A connection to the warehouse with its tables in place. One writer at a time (DuckDB's rule)."""
        with warehouse.connect(self.warehouse) as con:
            yield con


DATA_DIR_ENV = "PIPELINE_DATA_DIR"


def data_store() -> DataStore:
    """The code location's store: data_dir from $PIPELINE_DATA_DIR, read when a run starts (the Makefile sets it)."""
    return DataStore(data_dir=dg.EnvVar(DATA_DIR_ENV))


def data_store_now() -> DataStore:
    """The store a command-line tool works on: $PIPELINE_DATA_DIR, else data/ (the folder `make` uses)."""
    return DataStore(data_dir=dg.EnvVar(DATA_DIR_ENV).get_value("data"))
