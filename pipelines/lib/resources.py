"""The code location's two resources: where the data lives (one folder, from which every path is derived) and the
configuration it runs with (the config/ folder, loaded and checked once per run)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
from pydantic import PrivateAttr

from pipelines.lib import warehouse
from pipelines.lib.config import PROJECT_CONFIG_DIR, Config, load_config

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

    @property
    def portal_store(self) -> Path:
        """The submission portal's SQLite file (pipelines/portal/store.py), read for its audit records."""
        return portal_dir(self.root) / "portal.sqlite"

    @contextmanager
    def connect(self) -> Iterator:
        """A connection to the warehouse with its tables in place. One writer at a time (DuckDB's rule)."""
        with warehouse.connect(self.warehouse) as con:
            yield con


PORTAL_DIR_ENV = "PORTAL_DIR"


def portal_dir(data_dir: Path) -> Path:
    """The submission portal's folder (its store, uploads and session key): $PORTAL_DIR, else data/portal/."""
    return Path(os.environ.get(PORTAL_DIR_ENV) or Path(data_dir) / "portal")


DATA_DIR_ENV = "PIPELINE_DATA_DIR"


def data_store() -> DataStore:
    """The code location's store: data_dir from $PIPELINE_DATA_DIR, read when a run starts (the Makefile sets it)."""
    return DataStore(data_dir=dg.EnvVar(DATA_DIR_ENV))


def data_store_now() -> DataStore:
    """The store a command-line tool works on: $PIPELINE_DATA_DIR, else data/ (the folder `make` uses)."""
    return DataStore(data_dir=dg.EnvVar(DATA_DIR_ENV).get_value("data"))


class Settings(dg.ConfigurableResource):
    """config_dir holds sources.yaml, mappings/, housekeeping.yaml and open_data.yaml; `config` is them loaded and
    checked (pipelines/lib/config), once per run."""

    config_dir: str = str(PROJECT_CONFIG_DIR)
    _config: Config | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A run loads the configuration as its resources are set up, before its first step, so a configuration that
        # does not hold stops the run before anything is archived or staged (ConfigError names every problem).
        # A sensor loads it when it asks, so that it can report the problem instead of failing its tick.
        if context.dagster_run is not None:
            self._config = load_config(Path(self.config_dir))

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(Path(self.config_dir))
        return self._config


CONFIG_DIR_ENV = "PIPELINE_CONFIG_DIR"


def settings() -> Settings:
    """The code location's configuration: config_dir from $PIPELINE_CONFIG_DIR, read when a run starts (the Makefile
    sets it)."""
    return Settings(config_dir=dg.EnvVar(CONFIG_DIR_ENV))


def settings_now() -> Settings:
    """The configuration a command-line tool works with: $PIPELINE_CONFIG_DIR, else the project's config/."""
    return Settings(config_dir=dg.EnvVar(CONFIG_DIR_ENV).get_value(str(PROJECT_CONFIG_DIR)))
