"""Run the pipeline over what is in data/landing/ now, and print a short summary.

    python -m pipelines.run [--start 2023-01 --end 2025-12]

Without --start/--end the months are those that have returns in the landing folder (folders that are not a month
the pipeline has, such as 2025-13, are listed as set aside). A warehouse that lacks published months outside the
months asked for (it is new or was lost) gets every landed month, and the run says so: run alone, the months asked
for would be published without the rest. The run goes into the Dagster instance at $DAGSTER_HOME, so `make dev`
shows it afterwards; a failed run names its first failed step and the error under its status line.

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
from pipelines.defs.publishing.open_data import months_dropped
from pipelines.lib import warehouse
from pipelines.lib.config import ConfigError
from pipelines.lib.partitions import MISSING_MONTHS, monthly
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


def months_never_run(instance: dg.DagsterInstance) -> str:
    """The months no run has covered yet, which the Dagster UI shows as missing partitions, as ranges, and why."""
    done = instance.get_materialized_partitions(dg.AssetKey("raw_agency_returns"))
    keys = monthly.get_partition_keys()
    missing = [key for key in keys if key not in done]
    ranges: list[list[str]] = []  # [first, last] of each stretch of consecutive months never run
    for before, key in zip([None, *keys], keys):
        if key not in done:
            if ranges and ranges[-1][1] == before:
                ranges[-1][1] = key
            else:
                ranges.append([key, key])
    if not ranges:
        return ""
    shown = ", ".join(first[:7] if first == last else f"{first[:7]} to {last[:7]}" for first, last in ranges)
    return f"\nmonths not run yet ({len(missing)}, missing in the Dagster UI): {shown}.\n  {MISSING_MONTHS}"


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


def keep_history(store, start: str, end: str, months: list[str]) -> tuple[str, str]:
    """The run's months, widened to every landed month when the warehouse lacks published months outside them (it is
    new or was lost): run alone, those months would be published without the rest of the history, which publishing
    refuses. Says so when it widens them."""
    with store.connect() as con:
        missing = {f"{m:%Y-%m}" for lost in months_dropped(con, store.published).values() for m in lost}
    outside = sorted(m for m in missing if not start <= m <= end)
    if not outside or not months or (months[0] >= start and months[-1] <= end):
        return start, end
    print(f"the warehouse has no figures for {len(outside)} published months outside {start} to {end} "
          f"({outside[0]} to {outside[-1]}): it is new or was lost, so this run rebuilds every landed month, "
          f"{min(start, months[0])} to {max(end, months[-1])}, and the open data keeps its history")
    return min(start, months[0]), max(end, months[-1])


def first_failure(result: dg.ExecuteInProcessResult) -> str:
    """The run's first failed step and the error at the bottom of it (what went wrong, not the wrapper Dagster puts
    around it); empty for a run with no failed step. The steps that needed its output were not run: a later table
    was not built, not wrong."""
    failed = [event for event in result.all_events if event.is_step_failure]
    if not failed:
        return ""
    error = failed[0].event_specific_data.error
    while error.cause is not None:
        error = error.cause
    first = (error.message.strip().splitlines() or [""])[0]  # "package.module.Class: text"
    qualified, colon, text = first.partition(": ")
    message = f"{error.cls_name}: {text}" if colon and qualified.endswith(error.cls_name) else first
    others = f"; {len(failed) - 1} other steps failed after it" if len(failed) > 1 else ""
    return (f"first failed step: {failed[0].step_key}: {message}\n(the steps that needed it were "
            f"not run{others}; `make dev` shows the run with every error in full)\n")


def summary(result: dg.ExecuteInProcessResult, store, seconds: dict[str, float], months: tuple[str, str],
            demo: bool = False, revisions_before: int = -1, never_run: str = "") -> str:
    lines = [f"{'stage':<28}{'files':>7}{'accepted':>11}{'quarantined':>13}{'seconds':>9}"]
    seen = set()
    for event in result.get_asset_materialization_events():
        key = event.asset_key.to_user_string()
        if key in seen:  # a run over a range of months reports each partition with the same metadata
            continue
        seen.add(key)
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
        files = meta.get("files", meta.get("files_seen", ""))
        rows = meta.get("rows_accepted", meta.get("dagster/row_count", ""))
        if files in ("", 0) and rows in ("", 0) and not meta.get("rows_quarantined"):
            continue  # a stage with nothing to do in this run (no extracts, no API agencies, ...)
        lines.append(f"{key:<28}{files:>7}{rows:>11}{meta.get('rows_quarantined', ''):>13}{seconds.get(key, 0):>9.1f}")
        lines += [f"  warning: {warning}" for warning in meta.get("warnings", [])]  # a layout read, but doubtful
    lines.append(checks_summary(result.get_asset_check_evaluations(), demo))
    with store.connect() as con:
        lines.append(headlines(con, rebuilt="kpi_rollups" in seen))
        lines.append(revised(con, revisions_before))
    lines.append(set_aside(store, *months))
    with store.connect() as con:
        lines += kpis_not_formed(con)
    lines += [never_run] if never_run else []
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
        if kind == "BLOCKING":  # what failed
            lines.append(f"    {check.description}")
        where = check.metadata.get("where")  # and where: the agency, service, period and files to look at
        lines += [f"    {place}" for place in (where.value if where else [])]
    return "\n".join(lines)


def last_revision(store) -> int:
    """The row id of the last row of `revisions` (-1: none yet), taken before a run so that its summary names the
    figures the run revised."""
    with store.connect() as con:
        if not warehouse.table_exists(con, "revisions"):
            return -1
        return con.execute("SELECT coalesce(max(rowid), -1) FROM revisions").fetchone()[0]


NOTHING_REVISED = "\nrevised: nothing (no published figure changed)"


def revised(con, after: int) -> str:
    """The published figures this run withdrew or changed (the rows it added to `revisions`): how many, and where,
    by table, grain and period."""
    if not warehouse.table_exists(con, "revisions"):
        return NOTHING_REVISED
    rows = con.execute("""
        SELECT table_name, coalesce(grain, 'month'), month, count(*), count(*) FILTER (WHERE new_value IS NULL),
            count(DISTINCT service_id)
        FROM revisions WHERE rowid > ? GROUP BY ALL ORDER BY 1, 2, 3""", [after]).fetchall()
    if not rows:
        return NOTHING_REVISED
    figures, withdrawn = sum(r[3] for r in rows), sum(r[4] for r in rows)
    shown = [f"  {table} {grain} {month:%Y-%m}: {n} figures of {services} services ({gone} withdrawn)"
             for table, grain, month, n, gone, services in rows[:20]]
    more = [f"  ... and {len(rows) - 20} more periods (revisions)"] if len(rows) > 20 else []
    return "\n".join([f"\nrevised: {figures} published figures changed, {withdrawn} of them withdrawn "
                      "(each in revisions, from what to what):", *shown, *more])


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


def kpis_not_formed(con) -> list[str]:
    """A warning for each KPI a source's accepted rows could not form for most of its services (kpis_not_formed):
    a run that accepted rows but formed no take-up says so, with the fix."""
    if not warehouse.table_exists(con, "kpis_not_formed"):
        return []
    return [f"\nwarning: {agency}: {kpi} could not be formed for {affected} of its {services} services ({reason}); "
            f"to fix: {fix}" for agency, kpi, affected, services, reason, fix in con.execute(
                "SELECT agency_id, kpi, services_affected, services, reason, fix FROM kpis_not_formed "
                "ORDER BY agency_id, kpi").fetchall()]


def headlines(con, rebuilt: bool = True) -> str:
    """Government-wide figures for the latest month with a digital take-up figure, from kpi_rollups (the roll-up's
    formulas, volume-weighted over the services with a figure). `rebuilt` False: this run did not build kpi_rollups
    (a step before it failed), so the figures, if any, are an earlier run's, and say so."""
    if not warehouse.table_exists(con, "kpi_rollups"):  # no run has built it in this warehouse yet
        return "\nheadline KPIs: none (kpi_rollups has not been built yet)"
    rows = con.execute("""
        SELECT month, kpi, value FROM kpi_rollups
        WHERE level = 'government' AND month = (SELECT max(month) FROM kpi_rollups WHERE level = 'government'
                                                AND kpi = 'digital_take_up' AND value IS NOT NULL)""").fetchall()
    if not rows:
        return "\nheadline KPIs: no complete month yet"
    month, values = rows[0][0], {kpi: value for _, kpi, value in rows}

    def shown(kpi: str, form: str) -> str:
        return "no data" if values.get(kpi) is None else format(values[kpi], form)
    earlier = "" if rebuilt else ", from an earlier run: this run did not rebuild them"
    return (f"\nheadline KPIs, {month:%B %Y} (all services with a figure, volume-weighted{earlier}):\n"
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
        start, end = keep_history(store, start, end, months)
        revisions_before = last_revision(store)
        started = time.monotonic()
        result = run(start, end, instance)
        seconds = {}
        for event in result.all_events:
            if event.is_step_success:
                seconds[event.step_key] = event.event_specific_data.duration_ms / 1000
        print(f"\nmonthly_cycle {start} to {end}: {'succeeded' if result.success else 'FAILED'} "
              f"in {time.monotonic() - started:.1f} s (run {result.run_id})\n{first_failure(result)}")
        print(summary(result, store, seconds, (start, end), demo=args.demo, revisions_before=revisions_before,
                      never_run=months_never_run(instance)))
    return 0 if result.success else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (warehouse.WarehouseBusy, warehouse.CorruptWarehouse) as error:  # what to do instead of a traceback
        print(error, file=sys.stderr)
        sys.exit(1)
