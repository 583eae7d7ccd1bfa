"""One month of a national government's monthly returns (700 services from 100 agencies) through the monthly path:
archived, staged, checked and published by the pipeline, run the way `make run` runs it.

    python -m benchmarks.monthly_path --work data/bench/national [--month 2025-06 --agencies 100]

Writes a fresh data folder (<work>/data), configuration (<work>/config: the bundled mappings, and a registry of the
generated agencies) and Dagster instance (<work>/dagster), all replaced on each call. The returns come from the
example generator's pieces (`examples/`), seeded, so the same arguments give the same files: seven services an
agency, the agencies' layouts in the example data's mix (six in ten canonical CSV, two a wide XLSX workbook, two
JSON records), no defects seeded. Prints one JSON line: services, agencies, files landed, rows read from the
returns, wall seconds of the run's process, its peak resident memory, each step's seconds from the run's own
events in the instance, the seconds of `python -m pipelines preview` of one agency's workbook before the run, and
the load average before both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from examples.benefits import write_benefits_register
from examples.files import write_csv
from examples.generator import due_date, write_return
from examples.services import build_services, monthly_figures
from pipelines.lib.config import Agency

ROOT = Path(__file__).resolve().parent.parent
SERVICES_PER_AGENCY = 7
LAYOUTS = [("csv", "canonical")] * 6 + [("xlsx", "xlsx_wide")] * 2 + [("json", "json_records")] * 2
KINDS = ["tax", "licence", "benefit", "registration", "booking", "permit"]
MONTH_INDEX = 18  # how far along its take-up curve each service is (the example data's months from 0)


def national_agencies(count: int) -> list[Agency]:
    """`count` agencies in five-agency departments, in the example data's mix of layouts."""
    agencies = []
    for n in range(1, count + 1):
        file_format, mapping = LAYOUTS[n % len(LAYOUTS)]
        agencies.append(Agency(id=f"agency_{n:03d}", name=f"Agency {n:03d}",
                               department=f"Department {(n - 1) // 5 + 1:02d}", connector="file_drop",
                               format=file_format, mapping=mapping, return_due_day=10 + n % 10))
    return agencies


def generate(work: Path, month: str = "2025-06", agencies: int = 100, seed: int = 20250601) -> dict:
    """The data and config folders for one month of returns; the services, files and rows written."""
    for folder in ("data", "config", "dagster"):
        shutil.rmtree(work / folder, ignore_errors=True)
    landing, config = work / "data" / "landing", work / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns("sources.yaml", "examples"))
    registry = national_agencies(agencies)
    (config / "sources.yaml").write_text(yaml.safe_dump({
        "first_month": month, "agencies": [a.model_dump(include={"id", "name", "department", "connector", "format",
                                                                   "mapping", "return_due_day"}) for a in registry]},
        sort_keys=False), encoding="utf-8")
    rng = np.random.default_rng(seed)
    kinds = {a.id: (f"A{n:03d}", KINDS[n % len(KINDS)], n % 12 + 1,
                    [f"Service {k} of {a.name}" for k in range(1, SERVICES_PER_AGENCY + 1)])
             for n, a in enumerate(registry, start=1)}
    services = build_services(registry, rng, 0, kinds)
    write_csv(landing / "catalogue" / "services.csv",
              ["service_id", "service_name", "agency_id", "department", "category", "customer_type",
               "channels_offered", "high_volume"],
              [[s.service_id, s.name, s.agency.id, s.agency.department, s.category, "citizen", ";".join(s.channels),
                "true" if s.annual_volume >= 1_000_000 else "false"] for s in services])
    first = dt.date.fromisoformat(f"{month}-01")
    write_benefits_register(landing / "benefits" / "benefits_register.csv", services, [first], rng)
    rows = 0
    for agency in registry:
        tx, costs, sat = [], [], []
        for service in (s for s in services if s.agency.id == agency.id):
            volumes, cost_rows, ratings = monthly_figures(service, first, MONTH_INDEX, rng)
            tx += [[service.service_id, first.isoformat(), c, st, co] for c, (st, co) in volumes.items()]
            costs += [[service.service_id, first.isoformat(), cat, ch, v] for cat, ch, v in cost_rows]
            sat += [[service.service_id, first.isoformat(), c, *r] for c, r in ratings.items()]
        totals = {}
        for service_id, _, _, _, completed in tx:
            totals[service_id] = totals.get(service_id, 0) + completed
        files = write_return(landing, agency, first, tx, costs, sat, totals)
        landed = dt.datetime.combine(due_date(agency, first) - dt.timedelta(days=2), dt.time(9, 30),
                                     dt.timezone.utc).timestamp()
        for rel in set(files.values()):
            os.utime(landing / rel, (landed, landed))
        # a wide workbook has one row per service, not per channel: its rows as the reader counts them
        rows += (len(totals) if agency.mapping == "xlsx_wide" else len(tx)) + len(costs) + len(sat)
    return {"services": len(services), "agencies": len(registry),
            "files": sum(1 for p in landing.rglob("*") if p.is_file()), "rows": rows}


def run_month(work: Path, month: str) -> dict:
    """The pipeline over the month in its own process, as `make run`: wall seconds and peak memory."""
    home = work / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "PIPELINE_DATA_DIR": str(work / "data"), "PIPELINE_CONFIG_DIR": str(work / "config"),
           "DAGSTER_HOME": str(home), "GX_ANALYTICS_ENABLED": "false"}
    started = time.monotonic()
    with (work / "run.log").open("w") as log:
        child = subprocess.Popen([sys.executable, "-m", "pipelines.run", "--start", month, "--end", month],
                                 stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    if status != 0:
        raise RuntimeError(f"the run exited with status {status}; see {work / 'run.log'}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def step_seconds(home: Path) -> dict[str, float]:
    """Each step's seconds in the one run of the instance, from its step-success events."""
    import dagster as dg  # only here: the run itself is measured in its own process

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
        return {e.dagster_event.step_key: round(e.dagster_event.event_specific_data.duration_ms / 1000, 2)
                for e in events}


def rows_read(data: Path) -> int:
    import duckdb

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.execute("SELECT coalesce(sum(rows_read), 0) FROM submission_accounting "
                           "WHERE return_type IN ('transactions', 'costs', 'satisfaction')").fetchone()[0]


def preview_one(work: Path, month: str, agency: str = "agency_006") -> dict:
    """`python -m pipelines preview` of one agency's monthly workbook (its three returns in one file), in its own
    process as an agency or the portal would run it: wall seconds, interpreter and imports included."""
    [workbook] = (work / "data" / "landing" / agency / month).glob("*.xlsx")
    env = {**os.environ, "PIPELINE_DATA_DIR": str(work / "data"), "GX_ANALYTICS_ENABLED": "false"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pipelines", "preview", agency, str(workbook), "--month", month,
                           "--config-dir", str(work / "config")], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"preview exited with status {done.returncode}: {done.stderr[-2000:]}")
    return {"agency": agency, "file": workbook.name, "seconds": round(seconds, 2)}


def measure(work: Path, month: str = "2025-06", agencies: int = 100) -> dict:
    """Generate the month in `work`, preview one agency's workbook, run the month, and report (see the module's
    docstring)."""
    work = Path(work).resolve()
    written = generate(work, month, agencies)
    load = round(os.getloadavg()[0], 1)
    preview = preview_one(work, month)
    timing = run_month(work, month)
    read = rows_read(work / "data")
    if read != written["rows"]:
        raise RuntimeError(f"the pipeline read {read} rows of the returns; {written['rows']} were written")
    return {**written, **timing, "load_before": load, "stage_seconds": step_seconds(work / "dagster"),
            "preview": preview}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("data/bench/national"))
    parser.add_argument("--month", default="2025-06")
    parser.add_argument("--agencies", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(measure(args.work, args.month, args.agencies)))


if __name__ == "__main__":
    main()
