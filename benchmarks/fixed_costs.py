"""What the benchmark measures beside the extracts: `make demo` after set-up, start-up (`import
pipelines.definitions` against `import dagster`) and the monthly path (benchmarks/monthly_path.py)."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.monthly_path import measure as measure_monthly

HERE = Path(__file__).resolve().parent
IMPORT_RUNS = 5


def bench_demo(work: Path) -> dict:
    """`make demo` after set-up: the example agencies generated, then the whole pipeline over them (pipelines.run),
    in a fresh data folder and Dagster instance; with the slowest steps, from the run's own summary."""
    folder, home, log = work / "demo", work / "demo-dagster", work / "demo.log"
    for path in (folder, home):
        shutil.rmtree(path, ignore_errors=True)
    home.mkdir(parents=True)
    log.unlink(missing_ok=True)
    shutil.copyfile(HERE.parent / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "PIPELINE_DATA_DIR": str(folder), "DAGSTER_HOME": str(home), "GX_ANALYTICS_ENABLED": "false"}
    env.pop("PIPELINE_CONFIG_DIR", None)
    result = {"seconds": 0.0, "peak_mb": 0.0, "commands": {}, "load_before": round(os.getloadavg()[0], 1)}
    for name, command in (("example_data", ["-m", "examples.generator", "--out", str(folder / "landing")]),
                          ("run", ["-m", "pipelines.run"])):
        started = time.monotonic()
        with log.open("a") as output:
            child = subprocess.Popen([sys.executable, *command], stdout=output, stderr=subprocess.STDOUT,
                                     cwd=HERE.parent, env=env)
            _, status, usage = os.wait4(child.pid, 0)
        result["commands"][name] = time.monotonic() - started
        result["seconds"] += result["commands"][name]
        result["peak_mb"] = max(result["peak_mb"], usage.ru_maxrss / 1024)
        if status != 0:
            return {"failed": f"{' '.join(command)} exited with status {status}; see {log}"}
    text = log.read_text(errors="replace")
    steps = [(m.group(1), float(m.group(2))) for m in re.finditer(r"^([a-z_]+) .*?(\d+\.\d)$", text, re.MULTILINE)]
    run = re.search(r"succeeded in ([\d.]+) s", text)
    result["run_seconds"] = float(run.group(1)) if run else None
    result["slowest_steps"] = sorted(steps, key=lambda step: -step[1])[:4]
    for path in (folder, home):
        shutil.rmtree(path, ignore_errors=True)
    print(f"demo: {result['seconds']:.1f} s", flush=True)
    return result


def _import_seconds(module: str) -> float:
    """Seconds to import `module` in a fresh interpreter (the interpreter's own start-up left out)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    output = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, env=env, capture_output=True, text=True,
                            check=True).stdout
    return float(output.strip().splitlines()[-1])


def bench_imports(runs: int = IMPORT_RUNS) -> dict:
    """The median of `runs` fresh processes each: `import pipelines.definitions` (the code location) and `import
    dagster` (what it cannot do without), taken in turns so that load falls on both alike."""
    seconds, load = {"pipelines.definitions": [], "dagster": []}, round(os.getloadavg()[0], 1)
    for _ in range(runs):
        for module in seconds:
            seconds[module].append(_import_seconds(module))
    medians = {module: statistics.median(values) for module, values in seconds.items()}
    print(f"imports: {medians}", flush=True)
    return {"runs": runs, "median_seconds": medians, "seconds": seconds, "load_before": load,
            "ratio": medians["pipelines.definitions"] / medians["dagster"]}


def bench_monthly(work: Path) -> dict:
    """The monthly path (benchmarks.monthly_path.measure: services, agencies, files, rows, seconds, peak_rss_mb,
    stage_seconds), or why it failed."""
    try:
        measured = measure_monthly(work / "monthly")
    except Exception as error:  # noqa: BLE001 - a failed measurement is reported on the page; the benchmark goes on
        return {"failed": f"{type(error).__name__}: {error}"}
    print(f"monthly path: {measured.get('seconds')} s", flush=True)
    return measured
