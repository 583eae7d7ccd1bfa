"""The benchmark: the pipeline against the floor, Polars and pandas on the same extract files, then incremental months.

    python -m benchmarks.run [--sizes 10M,50M --pipeline-only 200M --months-built 36 --events-per-month 10M]
                             [--spark: the pipeline with its extract stage on Spark too (local mode and a
                              standalone cluster on loopback), at --sizes]
    python -m benchmarks.run --scale 1B   (make bench SIZE=1B: the pipeline alone at that size, nothing else)

For each size, extracts are generated once (benchmarks/generate.py) under --work, then each path
(benchmarks/paths.py) runs in its own process on the same files: wall time, rows per second and peak memory
(the process's maximum resident set, from the kernel's rusage of that child). The pipeline's figures must equal
the floor's exactly (and Polars' and pandas' to 1e-9): the benchmark is also a correctness check. Incremental
months: with --months-built months built, the cost of adding one more against a full rebuild of all of them. And
`make demo` from scratch, start-up, and the monthly path (benchmarks/fixed_costs.py). --scale runs the pipeline alone
at one size (files generated, measured, then deleted: a billion events are about 18 GB, and as much again archived)
and keeps its figures in results.json beside the last full run's, which keeps those of the last --scale run. Writes
benchmarks/RESULTS.md (data/bench/results.json keeps the figures; `python -m benchmarks.report
data/bench/results.json` writes the page again from them); `make bench` runs the standard sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import duckdb

from benchmarks.fixed_costs import bench_demo, bench_imports, bench_monthly
from benchmarks.generate import generate
from benchmarks.report import write_results

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PANDAS_BYTES_PER_EVENT = 170  # measured here: ~8 GB at 50M events (four columns, two group-bys)


def events(text: str) -> int:
    text = text.strip().upper()
    return int(float(text[:-1]) * {"K": 1e3, "M": 1e6, "B": 1e9}[text[-1]]) if text[-1] in "KMB" else int(text)


def label(n: int) -> str:
    return f"{n / 1e9:g}B" if n >= 1e9 else f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}K"


def prepare(folder: Path, n: int, months: int, start: str = "2025-01") -> dict:
    """Generated extracts in `folder` (kept between benchmark runs), with no pipeline output yet."""
    marker = folder / "generated.json"
    wanted = {"events": n, "months": months, "start": start}
    if not marker.exists() or json.loads(marker.read_text())["request"] != wanted:
        shutil.rmtree(folder, ignore_errors=True)
        started = time.monotonic()
        made = generate(folder, n, months, start)
        marker.write_text(json.dumps({"request": wanted, "events": made["events"], "months": made["months"],
                                      "files": len(made["files"]), "seconds": time.monotonic() - started}))
    reset(folder)
    return json.loads(marker.read_text())


def reset(folder: Path) -> None:
    """Remove everything the pipeline built, so the next run starts from the landed files alone."""
    for name in ("warehouse.duckdb", "warehouse.duckdb.wal", "warehouse.duckdb.tmp", "archive", "published",
                 "stage-outputs", "config-spark"):
        target = folder / name
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    for sibling in ("storage", "cluster"):  # the spark-cluster path's (benchmarks/paths.py)
        shutil.rmtree(folder.with_name(f"{folder.name}-{sibling}"), ignore_errors=True)


def measure(path: str, folder: Path, out: Path, start: str | None = None, end: str | None = None) -> dict:
    """Run one path in a child process: wall seconds, peak resident memory (MB) and the path's own timings."""
    command = [sys.executable, "-m", "benchmarks.paths", path, str(folder), str(out)]
    if start:
        command += ["--start", start, "--end", end]
    log = out.with_suffix(".log")
    os.sync()  # nothing from before (the generator's files, the last path's archive) is written back during this one
    load, started = os.getloadavg()[0], time.monotonic()
    with log.open("w") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                 cwd=HERE.parent, env={**os.environ, "GX_ANALYTICS_ENABLED": "false"})
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    if status != 0:
        raise PathFailed(f"{path} on {folder.name} failed (exit status {status}): "
                         f"{log.read_text()[-400:].strip().splitlines()[-1] if log.read_text().strip() else ''}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "load_before": round(load, 1),
            **json.loads(output.strip().splitlines()[-1])}


class PathFailed(RuntimeError):
    """A measured path that did not finish: reported as such, and the benchmark goes on with the next."""


def differences(pipeline: Path, other: Path, tolerance: float = 0.0) -> int:
    """Rows whose figures differ between the pipeline (its zero rows are offered channels with no transaction,
    which the other paths cannot know of) and another path; 0 when they agree."""
    return duckdb.connect().execute("""
        WITH p AS (SELECT * FROM read_parquet($p) WHERE transactions_started > 0), o AS (SELECT * FROM read_parquet($o))
        SELECT count(*) FROM p FULL JOIN o USING (service_id, month, channel)
        WHERE p.transactions_started IS DISTINCT FROM o.transactions_started
           OR p.transactions_completed IS DISTINCT FROM o.transactions_completed
           OR NOT (coalesce(abs(p.time_to_complete_median_seconds - o.time_to_complete_median_seconds)
                            <= $t * abs(o.time_to_complete_median_seconds), p.time_to_complete_median_seconds IS NULL
                            AND o.time_to_complete_median_seconds IS NULL))
           OR NOT (coalesce(abs(p.time_to_complete_p90_seconds - o.time_to_complete_p90_seconds)
                            <= $t * abs(o.time_to_complete_p90_seconds), p.time_to_complete_p90_seconds IS NULL
                            AND o.time_to_complete_p90_seconds IS NULL))
        """, {"p": str(pipeline), "o": str(other), "t": tolerance}).fetchone()[0]


def available_memory_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def bench_size(work: Path, n: int, paths: list[str], delete_files: bool = False) -> dict:
    folder = work / f"extracts-{label(n)}"
    months = max(1, round(n / 100e6))  # about 100M transactions a month, a national government's volume
    generated = prepare(folder, n, months)
    first, last = generated["months"][0][:7], generated["months"][-1][:7]
    result = {"events": generated["events"], "months": months, "files": generated["files"],
              "file_bytes": sum(path.stat().st_size for path in (folder / "landing").rglob("extract-*")),
              "generate_seconds": generated["seconds"], "paths": {}}
    for path in paths:
        if path == "pandas" and n * PANDAS_BYTES_PER_EVENT > 0.7 * available_memory_bytes():
            result["paths"]["pandas"] = {"skipped": f"needs about {n * PANDAS_BYTES_PER_EVENT / 1e9:.0f} GB; "
                                                    f"{available_memory_bytes() / 1e9:.0f} GB available"}
            continue
        reset(folder)
        out = work / f"figures-{label(n)}-{path}.parquet"
        try:
            result["paths"][path] = measure(path, folder, out, first, last)
        except PathFailed as error:
            result["paths"][path] = {"failed": str(error)}
        print(f"{label(n)} {path}: {result['paths'][path]}", flush=True)
    pipeline_figures = work / f"figures-{label(n)}-pipeline.parquet"
    for other, tolerance in (("spark", 0.0), ("spark-cluster", 0.0), ("floor", 0.0), ("polars", 1e-9),
                             ("pandas", 1e-9)):
        if "seconds" in result["paths"].get(other, {}) and "seconds" in result["paths"].get("pipeline", {}):
            result["paths"][other]["differences"] = differences(pipeline_figures,
                                                                work / f"figures-{label(n)}-{other}.parquet", tolerance)
    reset(folder)
    if delete_files:
        shutil.rmtree(folder)
    return result


def bench_incremental(work: Path, built: int, per_month: int) -> dict:
    """Months 1..built from scratch, then month built+1 alone, then all built+1 from scratch (the full rebuild)."""
    folder = work / f"incremental-{built + 1}x{label(per_month)}"
    generated = prepare(folder, per_month * (built + 1), built + 1, "2023-01")
    months = [m[:7] for m in generated["months"]]
    first = measure("pipeline", folder, work / "incremental-first.parquet", months[0], months[-2])
    added = measure("pipeline", folder, work / "incremental-added.parquet", months[-1], months[-1])
    kept = {p.name: p.read_bytes() for p in sorted((folder / "published").glob("kpi_*.parquet"))}
    reset(folder)
    full = measure("pipeline", folder, work / "incremental-full.parquet", months[0], months[-1])
    rebuilt = {p.name: p.read_bytes() for p in sorted((folder / "published").glob("kpi_*.parquet"))}
    reset(folder)
    print(f"incremental: first {first['seconds']:.1f} s, one month {added['seconds']:.1f} s, "
          f"full rebuild {full['seconds']:.1f} s", flush=True)
    return {"months_built": built, "events_per_month": per_month, "events": generated["events"],
            "first": first, "added": added, "full": full,
            "same_published_kpis": kept == rebuilt and len(kept) > 0,
            "differing_published_kpis": sorted(name for name in kept.keys() | rebuilt.keys()
                                               if kept.get(name) != rebuilt.get(name))}


def bench_site(work: Path, services: int) -> dict:
    """benchmarks.site.measure, or why it failed."""
    from benchmarks.site import measure as measure_site

    try:
        return measure_site(work / "site", services)
    except Exception as error:  # noqa: BLE001 - a failed measurement is reported on the page; the benchmark goes on
        return {"failed": f"{type(error).__name__}: {error}"}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory,
            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "versions": {p: version(p) for p in ("dagster", "duckdb", "pandas", "pyarrow", "great-expectations")},
            "load_before": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10M,50M", help="sizes run on every path")
    parser.add_argument("--pipeline-only", default="200M", help="sizes run on the pipeline alone ('' for none)")
    parser.add_argument("--months-built", type=int, default=36)
    parser.add_argument("--events-per-month", default="10M", help="incremental benchmark ('0' to skip)")
    parser.add_argument("--demo", action=argparse.BooleanOptionalAction, default=True, help="time `make demo` too")
    parser.add_argument("--spark", action=argparse.BooleanOptionalAction, default=False,
                        help="run the pipeline with its extract stage on Spark too, in local mode and on a "
                             "standalone cluster on loopback, at --sizes (make bench SPARK=1)")
    parser.add_argument("--scale", help="only the pipeline at this size (make bench SIZE=1B), its files then deleted")
    parser.add_argument("--site", type=int, default=0, metavar="SERVICES",
                        help="build the dashboards for a generated national catalogue of this many services too")
    parser.add_argument("--work", type=Path, default=HERE.parent / "data" / "bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    kept = args.work / "results.json"
    previous = json.loads(kept.read_text()) if kept.exists() else {}
    if args.scale:
        run = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M %Z")}
        run["size"] = bench_size(args.work, events(args.scale), ["pipeline"], delete_files=True)
        run["load_after"] = os.getloadavg()
        report = {**previous, "scale": run}
        kept.write_text(json.dumps(report, indent=1, default=str))
        if "sizes" in report:  # the page needs a full run's figures; the next full run carries these over
            write_results(report, args.results)
            print(f"wrote {args.results}")
        return
    report = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M %Z"), "sizes": []}
    if "scale" in previous:
        report["scale"] = previous["scale"]  # the last --scale run, on the page beside this one
    every = ["pipeline", *(["spark", "spark-cluster"] if args.spark else []), "floor", "polars", "pandas"]
    runs = [(size, every) for size in filter(None, args.sizes.split(","))]
    runs += [(size, ["pipeline"]) for size in filter(None, args.pipeline_only.split(","))]
    for size, paths in runs:
        report["sizes"].append(bench_size(args.work, events(size), paths))
        kept.write_text(json.dumps(report, indent=1, default=str))  # kept as it goes
    if events(args.events_per_month):
        try:
            report["incremental"] = bench_incremental(args.work, args.months_built, events(args.events_per_month))
        except PathFailed as error:
            report["incremental_failed"] = str(error)
        kept.write_text(json.dumps(report, indent=1, default=str))
    if args.demo:
        report["demo"] = bench_demo(args.work)
    report["imports"] = bench_imports()
    kept.write_text(json.dumps(report, indent=1, default=str))
    report["monthly_path"] = bench_monthly(args.work)
    kept.write_text(json.dumps(report, indent=1, default=str))
    if args.site:
        report["site"] = bench_site(args.work, args.site)
    report["load_after"] = os.getloadavg()
    kept.write_text(json.dumps(report, indent=1, default=str))
    write_results(report, args.results)
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
