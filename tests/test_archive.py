"""The archive under the storage root (spark.storage): at a URI, one of fsspec's (memory://) or pyarrow's
(file://), every submission is archived there under its checksum name, nothing under data/archive/, and the run
stages and publishes the same KPI files as with the archive in data/archive/."""

import hashlib
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.fs as pafs
import pytest
import yaml

from benchmarks.generate import generate
from pipelines.definitions import assets, checks
from pipelines.lib.resources import DataStore, Settings
from pipelines.lib.spark_job import filesystem

MONTH = "2025-01-01"


def run(root: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*assets, *checks], instance=dg.DagsterInstance.ephemeral(),
        selection=dg.AssetSelection.assets("pub_open_data").upstream(),
        resources={"store": DataStore(data_dir=str(root)), "settings": Settings(config_dir=str(root / "config"))},
        tags={"dagster/asset_partition_range_start": MONTH, "dagster/asset_partition_range_end": MONTH},
        raise_on_error=False)


def kpis(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "published").glob("kpi_*"))}


@pytest.fixture(scope="module")
def default(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("default") / "data"
    generate(root, 2_000, months=1, rows_per_file=1_000)
    assert run(root).success
    return root


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_an_archive_at_a_uri_holds_every_submission_and_the_run_publishes_the_same(default, tmp_path, scheme):
    root = tmp_path / "data"
    generate(root, 2_000, months=1, rows_per_file=1_000)
    storage = f"memory://{tmp_path.name}/storage" if scheme == "memory" else (tmp_path / "storage").as_uri()
    registry_path = root / "config" / "sources.yaml"
    registry = yaml.safe_load(registry_path.read_text(encoding="utf-8"))
    registry_path.write_text(yaml.safe_dump({**registry, "spark": {"storage": storage}}, sort_keys=False),
                             encoding="utf-8")
    fs, archive = filesystem(f"{storage}/archive")
    try:
        assert run(root).success
        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
            archived = [path for (path,) in con.execute("SELECT DISTINCT archive_path FROM raw_submissions "
                                                        "ORDER BY ALL").fetchall()]
        found = sorted(info.path.removeprefix(f"{archive}/") for info in
                       fs.get_file_info(pafs.FileSelector(archive, recursive=True)) if info.is_file)
        assert found == archived and len(archived) == 4  # the catalogue and three extracts of two agencies
        for path in found:
            with fs.open_input_stream(f"{archive}/{path}") as stream:
                assert f"{path[:2]}/{hashlib.sha256(stream.read()).hexdigest()}" == path.rsplit(".", 1)[0]
        assert not (root / "archive").exists()
        assert kpis(root) == kpis(default) and "kpi_processing_time.parquet" in kpis(default)
    finally:
        fs.delete_dir_contents(archive, missing_dir_ok=True)

