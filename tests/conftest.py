"""Shared fixtures: a small generated dataset and one real materialisation of the whole graph on it."""

import hashlib
import shutil
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import assets, checks
from examples.generator import generate
from pipelines.lib.config import PROJECT_CONFIG_DIR
from pipelines.lib.resources import DataStore, Settings

SMALL = {"start": "2025-07", "months": 6, "services_per_agency": 2}
FIRST, LAST = "2025-07-01", "2025-12-01"
BROKEN = "pensions/2025-11/satisfaction.json"  # replaced by bytes no JSON parser accepts


def run_graph(store: DataStore, start: str = FIRST, end: str = LAST, selection=None, tags: dict | None = None,
              config_dir: Path = PROJECT_CONFIG_DIR) -> dg.ExecuteInProcessResult:
    """Materialise the whole graph (checks included) for the months [start, end] in one run."""
    return dg.materialize(
        [*assets, *checks], resources={"store": store, "settings": Settings(config_dir=str(config_dir))},
        instance=dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end,
              **(tags or {})},
        selection=selection, raise_on_error=False)


def published_checksums(store: DataStore) -> dict[str, str]:
    return {p.relative_to(store.published).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.published.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(store, defects, result): the small dataset landed, a broken file added, the whole graph run once."""
    root = tmp_path_factory.mktemp("pipeline")
    store = DataStore(data_dir=str(root))
    defects = generate(store.landing, **SMALL)
    (store.landing / BROKEN).write_text('{"serviceId": "PEN-001", "period": ', encoding="utf-8")
    result = run_graph(store)
    return store, defects, result


@pytest.fixture
def copied(built, tmp_path):
    """A private copy of the built data folder, for tests that change it."""
    store, defects, _ = built
    shutil.copytree(store.root, tmp_path / "data")
    return DataStore(data_dir=str(tmp_path / "data")), defects


# The files whose tests take longest start first, so that with a worker a core (`make test`) none is left running
# alone at the end; the order of the tests within a file is unchanged.
LONGEST_FIRST = ("test_postgres.py", "test_dashboards.py", "test_dashboards_real.py", "test_crash_safety.py",
                 "test_housekeeping.py", "test_spark_extracts.py", "test_hostile_run.py", "test_onboarding.py",
                 "test_pipeline.py")


def pytest_collection_modifyitems(items):
    rank = {name: number for number, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # a stable sort
