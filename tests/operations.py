"""Helpers for the operations tests: the pipeline as its own process, and canonical digests of what it leaves."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.lib.resources import WAREHOUSE_POOL

REPO = Path(__file__).resolve().parent.parent
# How long a test waits before it calls a process, a build or a page hung. Tests time nothing: a deadline only turns
# a hang into a failure, so it sits far above what the work takes. A busy 2-core machine (load 8-18) ran the suite in
# 51 minutes, 5 to 7 times its quiet time, and a wait can land in its busiest stretch, so each deadline is 10 to 15
# times the slowest quiet case or more: a process (at most a whole pipeline run of the small dataset, about a minute)
# 15 minutes, the dashboards' build (3-6 minutes) an hour, a page's queries in the browser (seconds) 5 minutes.
PROCESS_SECONDS, BUILD_SECONDS, PAGE_SECONDS = 900, 3600, 300
# Columns that hold the clock at the time of a write, not anything derived from the data: left out of comparisons.
WALL_CLOCK = {"raw_submissions": {"archived_at"}, "archive_purges": {"purged_at"}}


def warehouse_digest(path: Path) -> dict[str, str]:
    """sha256 of every warehouse table's rows, sorted, wall-clock columns left out: equal digests, equal contents."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        digests = {}
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables "
                                    "WHERE table_type = 'BASE TABLE' ORDER BY table_name").fetchall():
            columns = [name for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table]).fetchall() if name not in WALL_CLOCK.get(table, set())]
            rows = con.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in columns)} FROM "{table}" '
                               f"ORDER BY ALL").fetchall()
            digests[table] = hashlib.sha256(repr((columns, rows)).encode()).hexdigest()
        return digests
    finally:
        con.close()


def new_instance_home(folder: Path, config: str = "dagster.yaml") -> Path:
    """A DAGSTER_HOME with one of the project's instance configurations (config/dagster*.yaml)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / config, folder / "dagster.yaml")
    return folder


def one_slot_pool_home(folder: Path) -> Path:
    """A DAGSTER_HOME whose pools give one step at a time a slot, with the warehouse pool's one slot made now, before
    processes race to make it (the first claims of a pool with only a default limit can each add a slot: the README's
    deployment sets it the same way)."""
    folder.mkdir(parents=True)
    (folder / "dagster.yaml").write_text("concurrency:\n  pools:\n    default_limit: 1\n    granularity: op\n"
                                         "telemetry:\n  enabled: false\n", encoding="utf-8")
    with dg.DagsterInstance.from_config(str(folder)) as instance:
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
    return folder


def pipeline_process(data_dir: Path, home: Path, **env: str) -> subprocess.Popen:
    """`python -m pipelines.run` over data_dir/landing, as `make run` starts it, output kept in data_dir/../run.log."""
    log = (data_dir.parent / "run.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "pipelines.run"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PIPELINE_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(home), **env})
