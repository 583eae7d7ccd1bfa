"""The dashboards site for a national catalogue: a generated month of returns (benchmarks/monthly_path.py, seven
services an agency) run through the pipeline, then the Evidence site built from what it published, as `make
dashboards` builds it.

    python -m benchmarks.site --work data/bench/site [--services 2000]

Prints one JSON line: services, the pipeline's seconds, and for `npm run sources` and `npm run build:strict` each
their wall seconds, CPU seconds and peak resident memory (the largest process of the command's tree), then the
pages the build wrote (service pages among them) and the load average before each. Needs `make dashboards-install`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import time
from pathlib import Path

from benchmarks.monthly_path import generate, run_month

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
COMMANDS = {"sources": "timeout 600 npm run sources", "build": "npm run build:strict"}


def build_site(published: Path, log: Path) -> dict:
    """Each command's seconds, CPU seconds, peak memory and load before it; the pages written."""
    env = {**os.environ, "EVIDENCE_VAR__published_dir": str(published)}
    measured = {}
    with log.open("w") as output:
        for name, command in COMMANDS.items():
            load, started = os.getloadavg()[0], time.monotonic()
            child = subprocess.Popen(command, shell=True, cwd=DASHBOARDS, env=env, stdout=output,
                                     stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(child.pid, 0)
            if status != 0:
                raise RuntimeError(f"{command} exited with status {status}; see {log}")
            measured[name] = {"seconds": round(time.monotonic() - started, 1),
                              "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
                              "peak_rss_mb": round(usage.ru_maxrss / 1024), "load_before": round(load, 1)}
    build = DASHBOARDS / "build"
    return {**measured, "pages": sum(1 for _ in build.rglob("index.html")),
            "service_pages": sum(1 for _ in (build / "services").glob("*/index.html"))}


def measure(work: Path, services: int = 2000, month: str = "2025-06") -> dict:
    work = Path(work).resolve()
    written = generate(work, month, math.ceil(services / 7))
    run = run_month(work, month)
    return {"services": written["services"], "pipeline_seconds": run["seconds"],
            **build_site(work / "data" / "published", work / "site.log")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("data/bench/site"))
    parser.add_argument("--services", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(measure(args.work, args.services)))


if __name__ == "__main__":
    main()
