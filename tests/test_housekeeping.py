"""Backup and restore reproduce the published outputs byte for byte; the retention policy deletes only what it
says (old runs, superseded raw copies when asked, leftovers of killed writes) and keeps raw submissions by default."""

import datetime as dt
import json
import os
import shutil

import dagster as dg
import duckdb
import pytest

from pipelines.defs.housekeeping.backup import backup, restore
from pipelines.defs.housekeeping.retention import RetentionPolicy, apply_retention, retention_policy
from pipelines.lib.config import PROJECT_CONFIG_DIR, load_config
from pipelines.lib.resources import DataStore
from tests.conftest import LAST, published_checksums, run_graph
from tests.operations import warehouse_digest

NOW = dt.datetime.now(dt.timezone.utc)


def test_restore_into_an_empty_folder_then_rerun_reproduces_the_published_outputs(built, tmp_path):
    store, _, _ = built
    report = backup(store, tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / "MANIFEST.json").read_text(encoding="utf-8"))
    assert report["files"] == len(manifest["files"])
    archived = {p.relative_to(store.archive).as_posix() for p in store.archive.rglob("*") if p.is_file()}
    assert {f.removeprefix("archive/") for f in manifest["files"] if f.startswith("archive/")} == archived

    restored = DataStore(data_dir=str(tmp_path / "restored"))
    restore(tmp_path / "backup", restored)
    assert not restored.landing.exists() and not restored.published.exists()
    assert warehouse_digest(restored.warehouse) == warehouse_digest(store.warehouse)
    # Nothing landed: everything is rebuilt from the restored archive and warehouse alone.
    assert run_graph(restored).success
    assert published_checksums(restored) == published_checksums(store)


def test_a_damaged_or_incomplete_backup_is_refused_naming_the_file(built, tmp_path):
    store, _, _ = built
    backup(store, tmp_path / "backup")
    victim = next(p for p in sorted((tmp_path / "backup" / "archive").rglob("*")) if p.is_file())
    relative = victim.relative_to(tmp_path / "backup").as_posix()
    os.chmod(victim, 0o644)
    victim.write_bytes(victim.read_bytes() + b"x")
    with pytest.raises(ValueError, match=f"damaged: {relative} does not match its sha256"):
        restore(tmp_path / "backup", DataStore(data_dir=str(tmp_path / "restored")))
    victim.unlink()
    with pytest.raises(ValueError, match=f"incomplete: {relative} is missing"):
        restore(tmp_path / "backup", DataStore(data_dir=str(tmp_path / "restored")))
    assert not (tmp_path / "restored").exists()  # nothing half-restored


def test_backup_never_overwrites_and_restore_never_overwrites(built, copied, tmp_path):
    store, _, _ = built
    backup(store, tmp_path / "backup")
    with pytest.raises(FileExistsError):
        backup(store, tmp_path / "backup")
    with pytest.raises(FileExistsError, match="restore into an empty folder"):
        restore(tmp_path / "backup", copied[0])


def superseded(store: DataStore) -> tuple[str, str, dt.datetime]:
    """Correct one return after the run: the first version becomes superseded. (old copy, new copy, when the
    old one was received)."""
    landed = store.landing / "revenue" / LAST[:7] / "transactions.csv"
    with duckdb.connect(str(store.warehouse), read_only=True) as con:
        (old,) = con.execute("SELECT archive_path FROM current_submissions WHERE source_path = ?",
                             [landed.relative_to(store.landing).as_posix()]).fetchone()
        (received,) = con.execute("SELECT received_at FROM raw_submissions WHERE archive_path = ?", [old]).fetchone()
    landed.write_text(landed.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    os.utime(landed, (NOW.timestamp() + 60, NOW.timestamp() + 60))  # received after the first version
    assert run_graph(store, LAST, LAST).success
    with duckdb.connect(str(store.warehouse), read_only=True) as con:
        (new,) = con.execute("SELECT archive_path FROM current_submissions WHERE source_path = ?",
                             [landed.relative_to(store.landing).as_posix()]).fetchone()
    assert new != old
    return old, new, received


def test_default_policy_keeps_every_raw_version_and_a_year_of_runs(copied, tmp_path):
    store, _ = copied
    old, new, _ = superseded(store)
    policy = retention_policy(load_config(PROJECT_CONFIG_DIR).housekeeping)
    assert policy == RetentionPolicy(superseded_keep_days=None, run_history_keep_days=400, temporary_keep_hours=24)
    report = apply_retention(store, dg.DagsterInstance.ephemeral(), policy, now=NOW + dt.timedelta(days=3650))
    assert report["archive_copies"] == []
    assert (store.archive / old).exists() and (store.archive / new).exists()


def test_retention_deletes_old_superseded_copies_runs_and_leftovers_and_nothing_in_force(copied, tmp_path):
    store, _ = copied
    old, new, received = superseded(store)
    before = published_checksums(store)
    leftover = store.published / ".kpi_completion_rate.parquet.tmp"
    leftover.write_bytes(b"half a file")
    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"))
    run_id = dg.materialize([_noop], instance=instance).run_id
    policy = RetentionPolicy(superseded_keep_days=30, run_history_keep_days=400, temporary_keep_hours=24)

    soon = apply_retention(store, instance, policy, now=received + dt.timedelta(days=29), dry_run=True)
    assert soon == {"archive_copies": [], "runs": [], "temporary_files": []}
    later = NOW + dt.timedelta(days=401)
    dry = apply_retention(store, instance, policy, now=later, dry_run=True)
    assert dry == {"archive_copies": [old], "runs": [run_id],
                   "temporary_files": ["published/.kpi_completion_rate.parquet.tmp"]}
    assert (store.archive / old).exists() and instance.get_run_by_id(run_id) is not None and leftover.exists()

    assert apply_retention(store, instance, policy, now=later) == dry
    assert not (store.archive / old).exists() and (store.archive / new).exists()
    assert instance.get_run_by_id(run_id) is None and not leftover.exists()
    with duckdb.connect(str(store.warehouse), read_only=True) as con:
        assert con.execute("SELECT archive_path, reason FROM archive_purges").fetchall() == [
            (old, f"superseded; last received {received:%Y-%m-%d}, retention 30 days")]
    assert apply_retention(store, instance, policy, now=later)["archive_copies"] == []  # done once
    # What is in force is all a month needs: re-running gives the same published files.
    assert run_graph(store).success
    assert published_checksums(store) == before


@dg.asset
def _noop() -> None:
    """A run for the run-history retention to find."""
