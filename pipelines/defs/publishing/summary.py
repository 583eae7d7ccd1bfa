"""The ministers' benefits summary on paper and screen: a PDF and an HTML page for each month and each financial
quarter (April-March year), under data/published/reports/ (benefits-summary-2025-12.pdf,
benefits-summary-2025-26-Q3.html, ...), rendered by summary_render.py.

Only what changed is rendered: reports/manifest.json keeps, for each summary, a fingerprint of what it was made from
(its rows, the product's version, the rendering code and templates) and the sha256 of its two files, and a summary
whose fingerprint and files are as recorded is left as it is. Many summaries (a backfill) render in parallel, one
worker process a core.
"""

import datetime as dt
import json
import multiprocessing
import os
import statistics
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dagster as dg

from pipelines.defs.publishing.summary_formats import Period, periods_ending_in
from pipelines.defs.publishing.summary_render import render_month
from pipelines.lib.partitions import monthly, months_in
from pipelines.lib.resources import WAREHOUSE_POOL, DataStore

MANIFEST = "manifest.json"
NAMED = ("kind", "period_start", "period_name")  # each summary's period in the manifest, for the site's list
# Months from which the summaries render in worker processes: on 2 cores, 6 months rendered in 3.3-3.7 s here and in
# 3.6-4.5 s (6.7-8.3 s of CPU) by two workers, whose interpreters take a second or two to start; 12 in 6.0 s here
# and 5.0 s in workers.
PARALLEL_FROM = 12


def _manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["summaries"]
    except (FileNotFoundError, KeyError, ValueError):
        return {}


def _in_workers(published: Path, months: list[list[Period]], manifest: dict, workers: int) -> list[dict]:
    """Months rendered by `workers` processes (new interpreters, not forks of this one, which holds DuckDB's and
    Dagster's threads); a worker that fails fails the step with its error."""
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        rendered = pool.map(render_month, [published] * len(months), months, [manifest] * len(months))
        return [entry for entries in rendered for entry in entries]


def build_summaries(store: DataStore, months: list[dt.date]) -> dict[str, dict]:
    """Bring the summaries of each month in `months`, and of each quarter ending in one, up to date. Returns each
    summary's entry: its status ('written' or 'unchanged'), seconds, fingerprint and files' sha256."""
    folder = store.published / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    manifest, tasks = _manifest(folder), defaultdict(list)
    for period in periods_ending_in(months):
        tasks[period.end].append(period)
    workers = min(os.cpu_count() or 1, len(tasks)) if len(tasks) >= PARALLEL_FROM else 1
    if workers > 1:
        done = _in_workers(store.published, list(tasks.values()), manifest, workers)
    else:
        done = [entry for periods in tasks.values() for entry in render_month(store.published, periods, manifest)]
    results = {entry["stem"]: entry for entry in done}
    manifest.update({stem: {k: v for k, v in entry.items() if k.endswith("sha256") or k in NAMED}
                     for stem, entry in results.items()})
    temporary = folder / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps({"summaries": dict(sorted(manifest.items()))}, indent=1) + "\n",
                         encoding="utf-8")
    os.replace(temporary, folder / MANIFEST)
    return results


@dg.asset(pool=WAREHOUSE_POOL, group_name="publish", partitions_def=monthly,
          backfill_policy=dg.BackfillPolicy.single_run(), deps=["pub_open_data"], kinds={"pdf", "html"})
def pub_benefits_summary(context: dg.AssetExecutionContext, store: DataStore) -> dg.MaterializeResult:
    """The ministers' benefits summary (PDF and HTML) of each month, and of each financial quarter it ends; only
    those whose figures changed are rendered again."""
    results = build_summaries(store, months_in(context.partition_time_window))
    written = [entry for entry in results.values() if entry["status"] == "written"]
    metadata = {"folder": str(store.published / "reports"), "files": 2 * len(written),  # a PDF and a page each
                "summaries": len(results), "rendered": len(written),
                "unchanged": len(results) - len(written),
                "written": dg.MetadataValue.json(
                    sorted(f"{e['stem']}.{kind}" for e in written for kind in ("pdf", "html")))}
    if written:  # wall time of each rendered summary, in its worker
        metadata["seconds_per_summary_median"] = round(statistics.median(e["seconds"] for e in written), 3)
        metadata["seconds_per_summary_max"] = round(max(e["seconds"] for e in written), 3)
    return dg.MaterializeResult(metadata=metadata)
