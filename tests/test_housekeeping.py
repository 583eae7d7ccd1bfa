"""Backup and restore reproduce the published outputs byte for byte, as the README runs them, taking turns with runs;
the retention policy deletes only what it says (old runs, superseded raw copies when asked, leftovers of killed
writes) and keeps raw submissions by default; a damaged warehouse is reported with the way to restore it."""

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.housekeeping.backup import backup, restore
from pipelines.defs.housekeeping.retention import RetentionPolicy, apply_retention, retention_policy
from pipelines.lib import warehouse
from pipelines.lib.config import PROJECT_CONFIG_DIR, load_config
from pipelines.lib.resources import DataStore
from tests.conftest import LAST, published_checksums, run_graph
from tests.operations import REPO, new_instance_home, warehouse_digest

NOW = dt.datetime.now(dt.timezone.utc)


def test_backup_lists_every_file_and_restore_gives_the_same_warehouse_with_nothing_landed(built, tmp_path):
    """(the run that republishes from a restored folder, and its files, are the README test's below)"""
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


def test_a_backup_with_the_archive_under_the_storage_root_says_it_did_not_copy_it(built, tmp_path):
    store, _, _ = built
    report = backup(store, tmp_path / "backup", storage="s3://bucket/pipeline/")
    assert report["archive_not_copied"] == ("the archive is under the storage root (s3://bucket/pipeline/archive), "
                                            "not in this backup: back it up with the storage's own tools")
    manifest = json.loads((tmp_path / "backup" / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["files"] and [f for f in manifest["files"] if f.startswith("archive/")] == []


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


@pytest.fixture(scope="module")
def corrected(built, tmp_path_factory) -> tuple[DataStore, str, str, dt.datetime]:
    """A copy of the built data after one return was corrected and its month run again (once for the module):
    (the store, superseded's old copy, new copy and when the old one was received). Tests take copies of it."""
    store = DataStore(data_dir=str(tmp_path_factory.mktemp("corrected") / "data"))
    shutil.copytree(built[0].root, store.root)
    return store, *superseded(store)


def copy_of(corrected, tmp_path) -> tuple[DataStore, str, str, dt.datetime]:
    store, *versions = corrected
    shutil.copytree(store.root, tmp_path / "data")
    return DataStore(data_dir=str(tmp_path / "data")), *versions


def test_default_policy_keeps_every_raw_version_and_a_year_of_runs(corrected, tmp_path):
    store, old, new, _ = copy_of(corrected, tmp_path)
    policy = retention_policy(load_config(PROJECT_CONFIG_DIR).housekeeping)
    assert policy == RetentionPolicy(superseded_keep_days=None, run_history_keep_days=400, temporary_keep_hours=24)
    report = apply_retention(store, dg.DagsterInstance.ephemeral(), policy, now=NOW + dt.timedelta(days=3650))
    assert report["archive_copies"] == []
    assert (store.archive / old).exists() and (store.archive / new).exists()


def test_retention_deletes_old_superseded_copies_runs_and_leftovers_and_nothing_in_force(corrected, tmp_path):
    store, old, new, received = copy_of(corrected, tmp_path)
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


def command(data: Path, home: Path, *args: str) -> subprocess.Popen:
    """`python -m <args>` on the data folder `data`, as the README runs it; its output piped."""
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PIPELINE_DATA_DIR": str(data), "DAGSTER_HOME": str(home)})


def waiting(other: str, data: Path) -> re.Pattern:
    """What a command says while the test process holds the run lock of `data` as `other`."""
    return re.compile(rf"{other} is in progress on {re.escape(str(data))} \(pid {os.getpid()}, since "
                      r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\); waiting for it to finish \(at most 60 minutes\)\n")


def test_the_readmes_backup_restore_and_next_command_republish_the_same_files_each_waiting_its_turn(built, tmp_path):
    """The README's three commands, as processes: a backup started while a run holds the lock waits for it, restore
    prints the run that republishes (nothing is in landing/ then), and that run, started while a backup holds the
    lock, waits for it; the files it publishes are the original's, byte for byte."""
    store, home = built[0], new_instance_home(tmp_path / "home")
    with warehouse.exclusive(store.warehouse, "run"):
        backing_up = command(store.root, home, "pipelines.housekeeping", "backup", str(tmp_path / "backup"))
        assert waiting("a run", store.root).fullmatch(backing_up.stderr.readline())
        assert not (tmp_path / "backup").exists()
    out, err = backing_up.communicate(timeout=600)
    assert (backing_up.returncode, err) == (0, "the run has finished; starting\n")
    assert json.loads(out)["folder"] == str(tmp_path / "backup")

    new = DataStore(data_dir=str(tmp_path / "new" / "data"))
    restoring = command(new.root, home, "pipelines.housekeeping", "restore", str(tmp_path / "backup"))
    out, err = restoring.communicate(timeout=600)
    assert (restoring.returncode, err) == (0, "")
    assert json.loads(out)["next"] == f"PIPELINE_DATA_DIR={new.root} python -m pipelines.run --start 2025-07 " \
                                      f"--end 2025-12"
    # nothing landed: everything is rebuilt from the restored archive and warehouse alone
    assert not new.landing.exists() and not new.published.exists()
    assert warehouse_digest(new.warehouse) == warehouse_digest(store.warehouse)
    with warehouse.exclusive(new.warehouse, "backup"):
        running = command(new.root, home, "pipelines.run", "--start", "2025-07", "--end", "2025-12")
        assert waiting("a backup", new.root).fullmatch(running.stderr.readline())
    out, err = running.communicate(timeout=1800)
    assert running.returncode == 0, out[-3000:] + err[-3000:]
    assert err.startswith("the backup has finished; starting\n")
    assert "monthly_cycle 2025-07 to 2025-12: succeeded" in out
    assert published_checksums(new) == published_checksums(store)


def test_a_command_that_waited_too_long_for_the_lock_says_so_and_does_nothing(copied, tmp_path):
    store, home = copied[0], new_instance_home(tmp_path / "home")
    before, published = warehouse_digest(store.warehouse), published_checksums(store)
    gave_up = re.compile(rf"nothing done: gave up after waiting 0 minutes, as {{}} is still in progress on "
                         rf"{re.escape(str(store.root))} \(pid {os.getpid()}, since [^)]+\)\. Try again when it has "
                         r"ended, or wait longer \(--wait MINUTES\)\n")
    with warehouse.exclusive(store.warehouse, "backup"):
        running = command(store.root, home, "pipelines.run", "--wait", "0")
        out, err = running.communicate(timeout=600)
        assert (running.returncode, out) == (1, "")
        assert re.fullmatch(gave_up.pattern.format("a backup"), err), err
    with warehouse.exclusive(store.warehouse, "run"):
        backing_up = command(store.root, home, "pipelines.housekeeping", "--wait", "0", "backup",
                             str(tmp_path / "backup"))
        out, err = backing_up.communicate(timeout=600)
        assert (backing_up.returncode, out) == (1, "")
        assert re.fullmatch(gave_up.pattern.format("a run"), err), err
    assert not (tmp_path / "backup").exists() and not list(tmp_path.glob(".backup*"))
    assert (warehouse_digest(store.warehouse), published_checksums(store)) == (before, published)


def test_a_damaged_warehouse_is_reported_with_the_backup_and_restore_that_repair_it(copied, tmp_path):
    store, home = copied[0], new_instance_home(tmp_path / "home")
    with store.warehouse.open("r+b") as file:
        file.truncate(store.warehouse.stat().st_size // 2)
    said = re.compile(rf"the warehouse {re.escape(str(store.warehouse))} is damaged or truncated: DuckDB cannot read "
                      rf"it \(IO Error: Could not read enough bytes from file \"{re.escape(str(store.warehouse))}\": "
                      r"attempted to read \d+ bytes from location \d+\)\. Restore the latest backup into a new data "
                      r"folder \(PIPELINE_DATA_DIR=NEW python -m pipelines\.housekeeping restore BACKUP\) and run the "
                      r"command it prints, which republishes everything from it; README, \"Housekeeping, backup and "
                      r"restore\"\n")
    backing_up = command(store.root, home, "pipelines.housekeeping", "backup", str(tmp_path / "backup"))
    out, err = backing_up.communicate(timeout=600)
    assert (backing_up.returncode, out) == (1, "")
    assert said.fullmatch(err), err
    running = command(store.root, home, "pipelines.run")
    out, err = running.communicate(timeout=1800)
    assert running.returncode == 1
    assert said.fullmatch(err.splitlines(keepends=True)[-1]), err[-3000:]
    assert "Housekeeping, backup and restore" in (REPO / "README.md").read_text(encoding="utf-8")
