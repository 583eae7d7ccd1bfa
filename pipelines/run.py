"""Run the pipeline over what is in data/landing/ now, and print a short summary.

    python -m pipelines.run [--start 2023-01 --end 2025-12]

Without --start/--end the months are those that have returns in the landing folder (folders that are not a month
the pipeline has, such as 2025-13, are listed as set aside). The run goes into the Dagster instance at
$DAGSTER_HOME, so `make dev` shows it afterwards.

Runs do not collide: a second run over the same data folder (or a backup) waits, saying so, until the first ends,
at most --wait minutes (a lock file beside the warehouse, released by the system when its process ends however it
ends; pipelines/lib/warehouse.py `exclusive`). Once it holds the lock, a
run marks failed every run this command started that is still STARTED in the instance (its process was killed)
and frees the pool slots it held.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.lib import warehouse
from pipelines.lib.config import ConfigError
from pipelines.lib.partitions import monthly
from pipelines.lib.resources import CONFIG_DIR_ENV, DATA_DIR_ENV, data_store_now, settings_now

MONTH_FOLDER = re.compile(r"^\d{4}-\d{2}$")
LAUNCHED_BY = "pipeline/launched_by"  # tag of the runs this command starts, for the start-up sweep
ACTIVE = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]


def landed_months(store) -> list[str]:
    """The months with a folder under landing/<agency>/ that the monthly partitions have."""
    months = _partition_months()
    return sorted({p.name for p in store.landing.glob("*/*") if p.is_dir() and p.name in months})


def set_aside_folders(store) -> list[str]:
    """Folders named like a month (YYYY-MM) that are not one the pipeline has: never read, listed in the summary."""
    months = _partition_months()
    return sorted(p.relative_to(store.landing).as_posix() for p in store.landing.glob("*/*")
                  if MONTH_FOLDER.match(p.name) and p.name not in months)


def _partition_months() -> set[str]:
    now = dt.datetime.now(dt.timezone.utc)
    return {key[:7] for key in monthly.get_partition_keys(current_time=now)}


def sweep_killed_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs this command started that are still active: called with the run lock held, so their
    process is gone. Their pool slots are freed. Returns their run ids."""
    swept = []
    for stale in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE, tags={LAUNCHED_BY: "pipelines.run"})):
        instance.report_run_failed(stale, "its process ended without finishing the run (killed); marked failed "
                                          "when the next run started")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(stale.run_id)
        swept.append(stale.run_id)
    return swept


# The terminal shows warnings and errors only; every event is still in the instance (`make dev` shows the run).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# What the bundled example data seeds on purpose (examples/generator.py), so a demo's warnings read as expected.
DEMO_EXPECTED = {"submission_status:returns_on_time": "the example data leaves one agency's month out and has the "
                                                      "courts' return late every fifth month"}


def run(start: str, end: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("monthly_cycle").execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET,
        tags={"dagster/asset_partition_range_start": f"{start}-01", "dagster/asset_partition_range_end": f"{end}-01",
              LAUNCHED_BY: "pipelines.run"})


def summary(result: dg.ExecuteInProcessResult, store, seconds: dict[str, float], months: tuple[str, str],
            demo: bool = False) -> str:
    lines = [f"{'stage':<28}{'files':>7}{'accepted':>11}{'quarantined':>13}{'seconds':>9}"]
    seen = set()
    for event in result.get_asset_materialization_events():
        key = event.asset_key.to_user_string()
        if key in seen:  # a run over a range of months reports each partition with the same metadata
            continue
        seen.add(key)
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
        files = meta.get("files", meta.get("files_seen", ""))
        rows = meta.get("rows_accepted", meta.get("rows_in_run", meta.get("dagster/row_count", "")))
        if files in ("", 0) and rows in ("", 0) and not meta.get("rows_quarantined"):
            continue  # a stage with nothing to do in this run (no extracts, no API agencies, ...)
        lines.append(f"{key:<28}{files:>7}{rows:>11}{meta.get('rows_quarantined', ''):>13}{seconds.get(key, 0):>9.1f}")
    lines.append(checks_summary(result.get_asset_check_evaluations(), demo))
    with store.connect() as con:
        lines.append(headlines(con))
    lines.append(set_aside(store, *months))
    lines.append(f"\noutputs: warehouse {store.warehouse}\n         published {store.published}/ (open data, "
                 f"quarantine.csv, reports/*.pdf: the ministers' summaries)\n"
                 f"next:    make dev (the Dagster UI: this run, its checks and lineage)\n"
                 f"         make dashboards (the Evidence site from the published files)")
    return "\n".join(lines)


def checks_summary(checks, demo: bool) -> str:
    """How many checks passed; each one that did not, blocking or a warning, and in a demo why it was expected."""
    failed = [c for c in checks if not c.passed]
    lines = [f"\nchecks: {len(checks) - len(failed)} passed, {len(failed)} not passed"]
    for check in failed:
        name = f"{check.asset_key.to_user_string()}:{check.check_name}"
        kind = "warning" if check.severity == dg.AssetCheckSeverity.WARN else "BLOCKING"
        why = f" - expected in the demo: {DEMO_EXPECTED[name]}" if demo and name in DEMO_EXPECTED else ""
        lines.append(f"  {name} ({kind}){why}")
    return "\n".join(lines)


def set_aside(store, start: str, end: str) -> str:
    """What this run set aside: files of its months (and central files) quarantined whole (unreadable or over a
    limit, by rule), and folders not read."""
    with store.connect() as con:
        rows = con.execute("SELECT rule, source_file FROM quarantine WHERE row_number IS NULL AND (month IS NULL OR "
                           "month BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)) ORDER BY rule, source_file",
                           [f"{start}-01", f"{end}-01"]).fetchall()
    folders = set_aside_folders(store)
    if not rows and not folders:
        return "\nset aside: nothing"
    shown = [f"  {rule}: {source}" for rule, source in rows[:20]] + [f"  not_a_month_folder: {f}" for f in folders]
    more = f"\n  ... and {len(rows) - 20} more (quarantine.csv)" if len(rows) > 20 else ""
    return f"\nset aside ({len(rows) + len(folders)} files or folders, whole):\n" + "\n".join(shown) + more


def headlines(con) -> str:
    """Government-wide figures for the latest month with a digital take-up figure, from kpi_rollups (the roll-up's
    formulas, volume-weighted over the services with a figure)."""
    rows = con.execute("""
        SELECT month, kpi, value FROM kpi_rollups
        WHERE level = 'government' AND month = (SELECT max(month) FROM kpi_rollups WHERE level = 'government'
                                                AND kpi = 'digital_take_up' AND value IS NOT NULL)""").fetchall()
    if not rows:
        return "\nheadline KPIs: no complete month yet"
    month, values = rows[0][0], {kpi: value for _, kpi, value in rows}

    def shown(kpi: str, form: str) -> str:
        return "no data" if values.get(kpi) is None else format(values[kpi], form)
    return (f"\nheadline KPIs, {month:%B %Y} (all services with a figure, volume-weighted):\n"
            f"  cost per transaction GBP {shown('cost_per_transaction', ',.2f')} | "
            f"digital take-up {shown('digital_take_up', '.1%')} | completion rate {shown('completion_rate', '.1%')} | "
            f"satisfaction score {shown('user_satisfaction', '.1%')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", help="first month, YYYY-MM")
    parser.add_argument("--end", help="last month, YYYY-MM")
    parser.add_argument("--demo", action="store_true", help="say which warnings the example data seeds on purpose")
    parser.add_argument("--wait", type=float, default=warehouse.LOCK_WAIT_MINUTES, metavar="MINUTES",
                        help="how long to wait for a run or backup in progress on the same data (default %(default)g)")
    args = parser.parse_args()
    store, settings = data_store_now(), settings_now()
    try:
        settings.config
    except ConfigError as error:  # checked before the run, which would stop on it before writing anything
        print(f"nothing run: {error}", file=sys.stderr)
        return 1
    os.environ.setdefault(DATA_DIR_ENV, store.data_dir)  # the code location's store and configuration are the same
    os.environ.setdefault(CONFIG_DIR_ENV, settings.config_dir)
    if not os.environ.get("DAGSTER_HOME"):  # on its own (not from make): the instance `make` uses, .dagster/
        home = Path(".dagster").resolve()
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").touch()
        os.environ["DAGSTER_HOME"] = str(home)
    months = landed_months(store)
    if not months and not (args.start and args.end):
        print(f"nothing to run: no returns under {store.landing}/<agency>/<YYYY-MM>/ (try `make demo`)")
        return 1
    start, end = args.start or months[0], args.end or months[-1]
    first = monthly.get_first_partition_key()[:7]
    if start < first:  # folders before the first month are reported in submission_accounting, not loaded
        print(f"months before {first} (first_month in sources.yaml) are not loaded; starting at {first}")
        start = first
    if end < start:
        print(f"nothing to run: every month asked for is before {first}")
        return 1
    # The one writer while it runs (the run lock): the warehouse stays attached from the first step to the summary.
    with warehouse.exclusive(store.warehouse, "run", args.wait), warehouse.held(store.warehouse), \
            dg.DagsterInstance.get() as instance:
        for run_id in sweep_killed_runs(instance):
            print(f"run {run_id} was killed before it finished: marked failed, its pool slots freed")
        started = time.monotonic()
        result = run(start, end, instance)
        seconds = {}
        for event in result.all_events:
            if event.is_step_success:
                seconds[event.step_key] = event.event_specific_data.duration_ms / 1000
        print(f"\nmonthly_cycle {start} to {end}: {'succeeded' if result.success else 'FAILED'} "
              f"in {time.monotonic() - started:.1f} s (run {result.run_id})\n")
        print(summary(result, store, seconds, (start, end), demo=args.demo))
    return 0 if result.success else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (warehouse.WarehouseBusy, warehouse.CorruptWarehouse) as error:  # what to do instead of a traceback
        print(error, file=sys.stderr)
        sys.exit(1)
