"""Whole runs under attack: every attack class dropped beside the good returns, through `python -m pipelines.run`
as `make run` starts it, succeeds, names each bad file in the published quarantine, changes no other KPI row and
stays under 1 GB; resubmissions in any order; builds byte-identical from scratch and month by month; runs that
do not collide, killed runs marked failed, and a failed run that names its first failed step and is followed by a
run that succeeds."""

import datetime as dt
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zlib

import dagster as dg
import polars as pl
import pytest
import yaml

from pipelines.lib.resources import DataStore
from pipelines.run import sweep_killed_runs
from tests.conftest import published_checksums, run_graph
from tests.operations import PROCESS_SECONDS, REPO, new_instance_home, pipeline_process
from tests.test_hostile_inputs import workbook

MONTH = dt.date(2025, 11, 1)
KPIS = ("kpi_cost_per_transaction", "kpi_digital_take_up", "kpi_completion_rate", "kpi_user_satisfaction")
ATTACKED = ("land", "courts", "courts_quoted", "courts_moved", "guardian", "gzipped")
HEADER = "service_id,month,channel,transactions_started,transactions_completed"


def untouched_kpis(store: DataStore) -> dict[str, pl.DataFrame]:
    """KPI rows of every service and month but the attacked agencies' November."""
    with store.connect() as con:
        return {table: con.sql(f"SELECT kpi.* FROM {table} AS kpi JOIN stg_service_catalogue USING (service_id) "
                               "WHERE NOT (list_contains(?, agency_id) AND month = ?) ORDER BY ALL",
                               params=[list(ATTACKED), MONTH]).pl() for table in KPIS}


def gzip_bomb(size: int) -> bytes:
    packer, block = zlib.compressobj(9, zlib.DEFLATED, 31), b"0" * (1 << 20)
    return b"".join(packer.compress(block) for _ in range(size >> 20)) + packer.flush()


def attack(store: DataStore, config_dir, outside) -> dict[str, str]:
    """Every attack class beside the good returns of November; returns the rule each bad file must be named by."""
    land = store.landing / "land" / "2025-11"
    good = (land / "transactions.csv").read_text().splitlines()
    service = good[1].split(",")[0]

    def drop(rel: str, data: str | bytes) -> None:
        path = store.landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())

    overflow = [f"{service},2025-11-01,{channel},5000000000000000000,5000000000000000000"
                for channel in ("online", "phone")]
    # land reads transactions*.csv and costs*.csv here (config_for_attacks): each attack is a return of its own
    drop("land/2025-11/transactions_overflow.csv", "\n".join([HEADER, *overflow]) + "\n")
    drop("land/2025-11/transactions_huge_cell.csv", f"{HEADER}\n{service},2025-11-01,online,{'7' * 200_000},1\n")
    drop("land/2025-11/transactions_periods.csv",
         f"{HEADER}\n{service},0000-01,online,1,1\n{service},9999-12,online,1,1\n")
    drop("land/2025-11/transactions_quote.csv", "\n".join([HEADER, f'{service},"2025-11-01,online,1,1', *good[1:]]))
    drop("land/2025-11/transactions_nul.csv", f"{HEADER}\n{service},2025-11-01,online,1\x002,1\n")
    drop("land/2025-11/costs_nan.csv", "service_id,month,cost_category,channel,cost_gbp\n"
         f"{service},2025-11-01,staff,online,NaN\n{service},2025-11-01,it,online,inf\n"
         f"{service},2025-11-01,other,online,1e20\n")
    drop("land/2025-11/old/transactions.csv", "\n".join(good) + "\n")  # a draft: read, it would clash
    with open(os.fsencode(land) + b"/r\xe9turn.csv", "wb") as latin1_name:
        latin1_name.write(("\n".join(good) + "\n").encode())
    drop("courts/2025-11/monthly_return.xlsx", workbook("A1:XFD1048576"))  # 1.6 KB declaring 17 billion cells
    drop("courts_quoted/2025-11/monthly_return.xlsx", workbook("A1:XFD1048576", quote="'"))
    drop("courts_moved/2025-11/monthly_return.xlsx", workbook(None, "XFD1048576", "'", "xl/data/sheet1.xml"))
    drop("guardian/2025-11/transactions.json", b"[" * 200_000 + b"]" * 200_000)
    drop("gzipped/2025-11/transactions.csv.gz", gzip_bomb(2600 << 20))  # 2.6 GB of zeros in 2.5 MB
    drop("land/2025-13/transactions.csv", f"{HEADER}\n")
    drop("benefits/benefits_register.csv", "benefit_id,title\nB1,a register without its columns\n")
    (outside / "secret.csv").write_text("not for the pipeline\n")
    (land / "escape.csv").symlink_to(outside / "secret.csv")
    (land / "loop").symlink_to(land / "loop")
    (land / "folder.csv").mkdir()
    catalogue = store.landing / "catalogue" / "services.csv"
    (outside / "services.csv").write_text(catalogue.read_text() + "OUT-001,Outside,land,X,Y,citizen,online,false\n")
    catalogue.unlink()
    catalogue.symlink_to(outside / "services.csv")
    return {"land/2025-11/transactions_overflow.csv": "value_out_of_range",
            "land/2025-11/transactions_huge_cell.csv": "field_too_long",
            "land/2025-11/transactions_periods.csv": "period_not_recognised",
            "land/2025-11/transactions_quote.csv": "unterminated_quote",
            "land/2025-11/transactions_nul.csv": "not_a_number",
            "land/2025-11/costs_nan.csv": "not_finite",
            "land/2025-11/old/transactions.csv": "file_in_a_subfolder",
            "land/2025-11/r\\xe9turn.csv": "name_not_utf8",
            "courts/2025-11/monthly_return.xlsx": "sheet_too_large",
            "courts_quoted/2025-11/monthly_return.xlsx": "sheet_too_large",
            "courts_moved/2025-11/monthly_return.xlsx": "sheet_too_large",
            "guardian/2025-11/transactions.json": "unreadable_file",
            "gzipped/2025-11/transactions.csv.gz": "decompression_limit",
            "benefits/benefits_register.csv": "unreadable_file",
            "land/2025-11/escape.csv": "link_outside_landing",
            "land/2025-11/loop": "link_unresolvable",
            "land/2025-11/folder.csv": "folder_named_like_a_file",
            "catalogue/services.csv": "link_outside_landing"}


def config_for_attacks(folder) -> str:
    """The project's configuration plus an agency whose returns are gzipped CSV and two more courts, and land
    reading every transactions*.csv and costs*.csv of a month."""
    shutil.copytree(REPO / "config", folder)
    registry = yaml.safe_load((folder / "sources.yaml").read_text())
    courts = next(agency for agency in registry["agencies"] if agency["id"] == "courts")
    registry["agencies"] += [{**registry["agencies"][0], "id": "gzipped", "name": "Gzipped Returns Agency",
                              "mapping": "canonical_gz"},
                             {**courts, "id": "courts_quoted", "name": "Quoted Courts"},
                             {**courts, "id": "courts_moved", "name": "Moved Courts"}]
    for agency in registry["agencies"]:
        if agency["id"] == "land":
            agency["mapping"] = "canonical_many"
    (folder / "sources.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    (folder / "mappings" / "canonical_gz.yaml").write_text(
        "returns:\n  transactions: {file: transactions.csv.gz}\n  costs: {file: costs.csv.gz}\n"
        "  satisfaction: {file: satisfaction.csv.gz}\n")
    (folder / "mappings" / "canonical_many.yaml").write_text(
        "returns:\n  transactions: {file: transactions*.csv}\n  costs: {file: costs*.csv}\n"
        "  satisfaction: {file: satisfaction.csv}\n")
    return str(folder)


def test_a_run_fed_every_attack_succeeds_names_each_and_changes_nothing_else(copied, tmp_path):
    store, _ = copied
    before = untouched_kpis(store)
    with store.connect() as con:
        archived = con.execute("SELECT count(*) FROM raw_submissions WHERE source_path LIKE 'catalogue/%'").fetchone()
    (tmp_path / "outside").mkdir()
    expected = attack(store, config_for_attacks(tmp_path / "config"), tmp_path / "outside")
    script = ("import resource, subprocess, sys; code = subprocess.call([sys.executable, '-m', 'pipelines.run']); "
              "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
    env = {**os.environ, "PIPELINE_DATA_DIR": str(store.root), "PIPELINE_CONFIG_DIR": str(tmp_path / "config"),
           "DAGSTER_HOME": str(new_instance_home(tmp_path / "home"))}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=PROCESS_SECONDS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    peak = int(re.search(r"peak_rss_kib (\d+)", done.stdout).group(1))
    print(f"peak RSS of the run fed the bombs: {peak / 1024:.0f} MiB")
    assert peak < 1024 * 1024
    published = pl.read_csv(store.published / "quarantine.csv", infer_schema_length=0)
    named = {(r["source_file"], r["rule"]) for r in published.iter_rows(named=True)}
    assert {(path, rule) for path, rule in expected.items() if (path, rule) not in named} == set()
    assert b"\x00" not in (store.published / "quarantine.csv").read_bytes()
    assert published.filter(pl.col("source_file") == "land/2025-11/transactions_nul.csv").select(
        "rule", "offending_value").rows() == [("not_a_number", "1\\x002")]
    assert "not_a_month_folder: land/2025-13" in done.stdout and "set aside (" in done.stdout
    after = untouched_kpis(store)
    for table in KPIS:
        assert after[table].equals(before[table]), table
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM raw_submissions WHERE source_path LIKE '%escape%'").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM raw_submissions WHERE source_path LIKE 'catalogue/%'"
                           ).fetchone() == archived
        assert con.execute("SELECT count(*) FROM stg_benefits_register").fetchone()[0] > 0  # kept as it was


def test_resubmissions_in_any_order_the_latest_received_is_in_force(copied):
    store, _ = copied
    path = store.landing / "land" / "2025-11" / "transactions.csv"
    original, first_time = path.read_bytes(), path.stat().st_mtime
    rows = original.decode().splitlines()
    cells = rows[1].split(",")
    cells[-1] = str(int(cells[-1]) + 1) if cells[-1] else "1"
    changed = "\n".join([rows[0], ",".join(cells), *rows[2:]]).encode() + b"\n"
    selection = dg.AssetSelection.assets("stg_transactions").upstream()

    def submit(data: bytes, when: float) -> list[tuple]:
        path.write_bytes(data)
        os.utime(path, (when, when))
        assert run_graph(store, str(MONTH), str(MONTH), selection=selection).success
        with store.connect() as con:
            return con.execute("SELECT transactions_completed FROM stg_transactions WHERE source_file = ? "
                               "AND source_row = 1", ["land/2025-11/transactions.csv"]).fetchall()

    assert submit(changed, first_time - 86_400 * 365) == [(int(cells[-1]),)]  # B, its file time a year earlier
    assert submit(original, first_time) == [(int(rows[1].split(",")[-1]),)]  # A again, with its first file time
    assert submit(changed, first_time) == [(int(cells[-1]),)]  # and B again
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM raw_submissions WHERE source_path = ?",
                           ["land/2025-11/transactions.csv"]).fetchone() == (4,)
        # A, B, A, B: B is in force, A superseded by it, once (a version sent again is not superseded by itself)
        assert con.execute("SELECT file_status, sha256, superseded_by FROM submission_accounting WHERE source_file = ? "
                           "ORDER BY file_status", ["land/2025-11/transactions.csv"]).fetchall() == [
            ("read", hashlib.sha256(changed).hexdigest(), None),
            ("superseded", hashlib.sha256(original).hexdigest(), hashlib.sha256(changed).hexdigest())]


def test_builds_from_scratch_and_month_by_month_are_byte_identical(built, tmp_path):
    reference, _, result = built
    assert result.success
    expected = published_checksums(reference)
    store = DataStore(data_dir=str(tmp_path / "data"))
    shutil.copytree(reference.landing, store.landing)  # file times kept: received_at is when a file landed
    assert run_graph(store).success
    assert published_checksums(store) == expected
    assert run_graph(store, str(MONTH), str(MONTH)).success  # one month again, on top of the full build
    assert published_checksums(store) == expected


def test_a_second_run_waits_for_the_first_with_a_message(tmp_path):
    data = tmp_path / "data"
    release = tmp_path / "release"
    hold = (f"import pathlib, time, sys; from pipelines.lib.resources import DataStore; from pipelines.lib.warehouse "
            f"import exclusive\nwith exclusive(DataStore(data_dir={str(data)!r}).warehouse, 'run'):\n"
            f"    print('holding', flush=True)\n"
            f"    while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.05)\nprint('released')")
    first = subprocess.Popen([sys.executable, "-c", hold], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline() == "holding\n"
    second = subprocess.Popen([sys.executable, "-c", hold.replace("holding", "second holds")], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waiting = second.stderr.readline()
    assert re.fullmatch(rf"another run is in progress on {re.escape(str(data))} \(pid {first.pid}, since .*\); "
                        r"waiting for it to finish \(at most 60 minutes\)\n", waiting)
    release.write_text("go")
    assert first.wait(PROCESS_SECONDS) == 0 and second.stderr.readline() == "the other run has finished; starting\n"
    assert second.stdout.readline() == "second holds\n"
    assert second.wait(PROCESS_SECONDS) == 0


@pytest.mark.crash
def test_a_killed_run_is_marked_failed_when_the_next_run_starts(built, tmp_path):
    store = DataStore(data_dir=str(tmp_path / "data"))
    shutil.copytree(built[0].landing, store.landing)
    home, ready = new_instance_home(tmp_path / "home"), tmp_path / "ready"
    run = pipeline_process(store.root, home, PIPELINE_PAUSE_AT=f"archive:{ready}")
    deadline = time.monotonic() + PROCESS_SECONDS
    while not ready.exists():
        assert run.poll() is None and time.monotonic() < deadline, (tmp_path / "run.log").read_text()[-3000:]
        time.sleep(0.1)
    os.kill(run.pid, signal.SIGKILL)
    assert run.wait(30) == -signal.SIGKILL
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [killed] = instance.get_runs()
        assert killed.status == dg.DagsterRunStatus.STARTED
        assert sweep_killed_runs(instance) == [killed.run_id]
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        assert sweep_killed_runs(instance) == []


@pytest.mark.parametrize("table, column, value", [
    ("kpi_cost_per_transaction", "cost_per_transaction_gbp", "nan"),
    ("kpi_digital_take_up", "take_up_change_pp", "inf"),
    ("fct_service_month_channel", "cost_gbp", "-inf"),
])
def test_blocking_checks_fail_on_a_non_finite_value(copied, table, column, value):
    store, _ = copied
    with store.connect() as con:
        con.execute(f"UPDATE {table} SET {column} = '{value}'::DOUBLE WHERE rowid = (SELECT min(rowid) FROM {table} "
                    f"WHERE {column} IS NOT NULL)")
    result = run_graph(store, selection=dg.AssetSelection.checks_for_assets(dg.AssetKey(table)))
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.check_name == "valid"]
    assert not evaluation.passed
    failures = [f for f in evaluation.metadata["failures"].value if f["column"] == column]
    assert [(f["expectation"], f["unexpected_count"]) for f in failures if "finite" in f["why"]] == [
        ("expect_column_values_to_be_between", 1)]


def test_a_failed_run_names_its_first_failed_step_and_the_next_run_succeeds(built, tmp_path):
    """A run after a failed run reports the first failure's cause (issue 26: it was "Table with name kpi_rollups
    does not exist!" from the summary), and once the cause is gone it succeeds."""
    store = DataStore(data_dir=str(tmp_path / "data"))
    shutil.copytree(built[0].landing, store.landing)
    with store.connect() as con:  # an object in the way of a KPI table: its build fails for real, in a new warehouse
        con.execute("CREATE VIEW kpi_digital_take_up AS SELECT 1 AS planted")
    env = {**os.environ, "PIPELINE_DATA_DIR": str(store.root), "DAGSTER_HOME": str(new_instance_home(tmp_path / "h"))}

    def make_run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=900)

    failed = make_run()
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
    assert "Traceback" not in failed.stdout and "kpi_rollups does not exist" not in failed.stderr
    status = failed.stdout.index("monthly_cycle 2025-07 to 2025-12: FAILED")
    assert failed.stdout[status:].splitlines()[1:3] == [
        'first failed step: kpi_digital_take_up: CatalogException: Catalog Error: Existing object '
        '"kpi_digital_take_up" is of type View, trying to replace with type Table',
        "(the steps that needed it were not run; `make dev` shows the run with every error in full)"]
    assert "\nheadline KPIs: none (kpi_rollups has not been built yet)\n" in failed.stdout
    again = make_run()  # the cause still there: the run after a failed run names the same cause, no missing table
    assert again.returncode == 1 and "does not exist" not in again.stdout + again.stderr
    repeated = again.stdout.index("monthly_cycle 2025-07 to 2025-12: FAILED")
    assert again.stdout[repeated:].splitlines()[1:3] == failed.stdout[status:].splitlines()[1:3]
    with store.connect() as con:  # the cause taken away, the next run builds everything
        con.execute("DROP VIEW kpi_digital_take_up")
    again = make_run()
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "monthly_cycle 2025-07 to 2025-12: succeeded" in again.stdout
    assert "first failed step" not in again.stdout and "headline KPIs, December 2025 (" in again.stdout


def test_a_lost_warehouse_and_a_one_month_run_rebuild_every_month_and_publish_the_same_files(built, tmp_path):
    store = DataStore(data_dir=str(tmp_path / "data"))
    shutil.copytree(built[0].root, store.root)
    before = published_checksums(store)
    store.warehouse.unlink()
    env = {**os.environ, "PIPELINE_DATA_DIR": str(store.root), "DAGSTER_HOME": str(new_instance_home(tmp_path / "h"))}
    done = subprocess.run([sys.executable, "-m", "pipelines.run", "--start", "2025-12", "--end", "2025-12"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.splitlines()[0] == (
        "the warehouse has no figures for 5 published months outside 2025-12 to 2025-12 (2025-07 to 2025-11): it is "
        "new or was lost, so this run rebuilds every landed month, 2025-07 to 2025-12, and the open data keeps its "
        "history")
    assert "\nmonthly_cycle 2025-07 to 2025-12: succeeded in " in done.stdout
    assert published_checksums(store) == before


def test_publishing_refuses_to_drop_published_months_and_writes_nothing(built, tmp_path):
    store = DataStore(data_dir=str(tmp_path / "data"))
    shutil.copytree(built[0].root, store.root)
    before = published_checksums(store)
    store.warehouse.unlink()  # then one month, as the monthly schedule launches it
    result = run_graph(store, str(MONTH), str(MONTH))
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert (failure.step_key, failure.event_specific_data.user_failure_data.description) == (
        "pub_open_data", "publishing refused, no file written: the warehouse has no figures for 5 months that "
        f"{store.published}/ publishes (2025-07, 2025-08, 2025-09, 2025-10, 2025-12; in kpi_cost_per_transaction, "
        "kpi_digital_take_up, kpi_completion_rate, kpi_user_satisfaction, kpi_rollups), so this run would shrink the "
        "open data. The warehouse is new or was lost: rebuild every month from the landing files with `make run` "
        "(python -m pipelines.run without --start/--end), or restore a backup (python -m pipelines.housekeeping "
        "restore). If those months are meant to go, delete their tables' files from the published folder first.")
    assert published_checksums(store) == before
