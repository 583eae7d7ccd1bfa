"""benchmarks/RESULTS.md from the figures benchmarks/run.py measured (kept in data/bench/results.json).

    python -m benchmarks.report [data/bench/results.json [benchmarks/RESULTS.md]]
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.verdicts import (against_the_floor, checks_seconds, size_label as _size, targets, why_checks,
                                why_incremental, why_others)


def _paths_table(sizes: list[dict]) -> list[str]:
    lines = ["| events | path | wall time (s) | events per second | peak memory (MB) | time vs floor | memory vs floor "
             "| figures |", "|---:|---|---:|---:|---:|---:|---:|---|"]
    for size in sizes:
        floor = size["paths"].get("floor", {})
        for name, path in size["paths"].items():
            if "skipped" in path or "failed" in path:
                why = f"skipped: {path['skipped']}" if "skipped" in path else f"**failed**: {path['failed']}"
                lines.append(f"| {_size(size['events'])} | {name} | {why} | | | | | |")
                continue
            ratio = f"{path['seconds'] / floor['seconds']:.2f}x" if "seconds" in floor else "(no floor run)"
            memory = f"{path['peak_mb'] / floor['peak_mb']:.2f}x" if "seconds" in floor else ""
            if name == "pipeline":
                check = "the reference"
            else:
                check = ("equal to the pipeline's" if path.get("differences") == 0
                         else f"{path.get('differences')} rows differ")
            lines.append(f"| {_size(size['events'])} | {name} | {path['seconds']:.1f} | "
                         f"{size['events'] / path['seconds']:,.0f} | {path['peak_mb']:,.0f} | {ratio} | {memory} | "
                         f"{check} |")
    return lines


def _inside_table(sizes: list[dict]) -> list[str]:
    lines = ["| events | process (s) | outside the run: start-up, imports, exit (s) | Dagster run (s) "
             "| extract step (s) | of which duplicate check (s) | of which aggregation with row rules (s) "
             "| checks (s) | checks share |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        p = size["paths"].get("pipeline", {})
        if "seconds" not in p:
            continue
        checks = checks_seconds(p)
        lines.append(f"| {_size(size['events'])} | {p['seconds']:.1f} | {p['seconds'] - p['run_seconds']:.1f} | "
                     f"{p['run_seconds']:.1f} | {p['extract_step_seconds']:.1f} | {p['gate_seconds']:.1f} | "
                     f"{p['aggregation_seconds']:.1f} | {p['check_step_seconds']:.1f} | "
                     f"{checks / p['seconds']:.0%} |")
    return lines


def _spark(sizes: list[dict], cores: int) -> list[str]:
    """The pipeline with its extract stage on Spark: where its time goes, per-core throughput, what a cluster would
    change."""
    rows = [(s, s["paths"][name]) for s in sizes for name in ("spark", "spark-cluster")
            if "seconds" in s["paths"].get(name, {})]
    if not rows:
        return []
    lines = ["## The extract stage on Spark", "",
             "| events | master | pipeline (s) | extract step (s) | of which Spark job (s) | session start (s) | "
             "duplicate check and listing (s) | aggregation with row rules (s) | events per second per core |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size, p in rows:
        work = p["spark_seconds"] - p["spark_session_seconds"]
        lines.append(f"| {_size(size['events'])} | {p['spark_master']} | {p['seconds']:.1f} | "
                     f"{p['extract_step_seconds']:.1f} | {p['spark_seconds']:.1f} | {p['spark_session_seconds']:.1f} | "
                     f"{p['spark_gate_seconds']:.1f} | {p['spark_aggregation_seconds']:.1f} | "
                     f"{size['events'] / work / cores:,.0f} |")
    cluster = [(size, p) for size, p in rows if "cluster_start_seconds" in p]
    rows = [(size, p) for size, p in rows if "cluster_start_seconds" not in p] or rows
    size, p = rows[-1]
    duck = size["paths"].get("pipeline", {})
    work = p["spark_seconds"] - p["spark_session_seconds"]
    lines += [
        "",
        f"Per core, Spark staged {size['events'] / work / cores:,.0f} events a second here (the job's time less its "
        f"session start, over {cores} cores)"
        + (f", against DuckDB's {size['events'] / duck['extract_step_seconds'] / cores:,.0f} in the pipeline's "
           f"extract step" if "extract_step_seconds" in duck else "") + ". "
        "On one small machine Spark is the slower engine, as expected: a JVM to start, Parquet decoded row by row "
        "into its own format, and a shuffle between every grouping. What a cluster changes is the denominator: the "
        "row rules, the aggregation and the quarantine listing are split by file and by group over every executor "
        "core, so at this per-core rate 100 cores would stage a national month (100M transactions) in about "
        f"{100e6 / (size['events'] / work / cores) / 100:.0f} s, and the session start, the catalogue snapshot and "
        "the warehouse load stay fixed. Two parts do not spread: the duplicate check's ordered window over all of "
        "an agency-month's id hashes (transforms/sql/extract_duplicates.sql, `lag ... OVER (ORDER BY id_hash)`), "
        "which Spark runs in one task, and the quantiles, which hold each service's and channel's durations in one "
        "task. The figures equal the DuckDB pipeline's exactly (the `figures` column above).",
        "",
    ]
    for size, p in cluster:
        lines += [
            f"On the standalone cluster ({_size(size['events'])}), started on this machine's loopback before the run "
            f"({p['cluster_start_seconds']:.1f} s of its {p['seconds']:.1f} s), the two executors are JVMs of "
            "their own that cannot see the data folder: they read the archived extracts from the storage root "
            "(spark.storage) and write the outputs there. Its two 1-core workers share this machine's cores, so "
            "the cluster adds no cores here: what it measures is the deployment's own cost (executors started per "
            "job, files read from the storage root), not a speed-up.",
            "",
        ]
    return lines


# The page's sections from this heading on are written by hand (measurements `make bench` does not take) and kept.
BY_HAND = "## Recorded by hand"


def write_results(report: dict, path: Path) -> None:
    m = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python -m benchmarks.run`) on {report['started']}. Every figure below is a single "
        f"run (load average {m['load_before'][0]:.1f} before, "
        + (f"{report['load_after'][0]:.1f} after" if "load_after" in report else "the run stopped before its end")
        + f", on {m.get('cores', 'the')} cores; other jobs on the machine would show there), so timings carry "
        "noise of tens of per cent; each comparison is of paths run one after the other on the same files in the "
        "same run." + (f" {report['note']}" if report.get("note") else ""),
        "",
        "## Machine and versions",
        "",
        f"- {m['cpu']}, {m['cores']} cores, {m['memory_gb']:.0f} GB memory, no swap; {m['system']}",
        f"- Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        "## What is measured",
        "",
        "Extracts are generated by `benchmarks/generate.py`: two agencies, 48 services, about 100 million "
        "transactions a month (so 10M and 50M are part of one month, 200M is two, 1B ten), files of 5 million rows, "
        "realistic skew (the largest service carries 30% of the volume, the three largest half). On the same files, "
        "each path in its own process, started once everything written before it is on disk (`sync`), wall time "
        "from process start to exit (interpreter and imports included) and peak resident memory (the kernel's "
        "maximum RSS of that process):",
        "",
        "- **pipeline**: `dagster` materialises every asset upstream of `pub_open_data` and every check on them, "
        "in-process executor, from the landed files (archived by checksum, gated, aggregated, facts, KPI marts, "
        "the suites as DuckDB SQL) to the published Parquet/CSV; its figures are read back from "
        "`kpi_completion_rate` and `kpi_processing_time`.",
        "- **spark** (`make bench SPARK=1`): the same pipeline with the extract agencies' registry entries set to "
        "`engine: spark`: the extract stage runs on Spark in local mode through Dagster Pipes, the rest as above; "
        "its peak memory is the Python process's alone (the Spark JVM, given 2 GB, is not a child it waits for).",
        "- **spark-cluster** (`make bench SPARK=1` too): the same on a Spark standalone cluster the path starts on "
        "127.0.0.1 from the pyspark package (a master and two workers of 1 core and 1 GB, each executor a JVM of its "
        "own that cannot see the data folder), with spark.storage (archive, Spark inputs and outputs) beside the "
        "data folder; its wall time includes starting the cluster (given apart below), its peak memory is the "
        "Python process's alone.",
        "- **floor**: one hand-written DuckDB query computing the same figures straight from the files.",
        "- **polars**: the same aggregates in Polars, lazy, on its streaming engine (the peer a user would pick).",
        "- **pandas**: the same aggregates in pandas (read the four columns, two group-bys).",
        "",
        "## Figures",
        "",
        *_paths_table(report["sizes"]),
        "",
        "The pipeline's figures (starts, completions, median and 90th-percentile time to complete per service x "
        "month x channel and per service) equal the floor's exactly at every size, and Polars' and pandas' to 1e-9 "
        "(they interpolate quantiles with other floating-point steps).",
        "",
        "## Inside the pipeline",
        "",
        *_inside_table(report["sizes"]),
        "",
        "Checks = the duplicate-transaction check and the listing of rejected rows (inside the extract step) plus "
        "the suites (timed inside their tables' steps, from a table's materialisation to its check's result) and "
        "the check steps of the warnings and the row accounting. The row rules (extract_rows.sql) are evaluated in "
        "the aggregation's own pass and counted there.",
        "",
    ]
    lines += [*_spark(report["sizes"], m["cores"]), *_incremental(report), *_scale(report), *_fixed_costs(report)]
    found = targets(report)
    lines += ["## Targets", "", *found, ""] if len(found) > 2 else []
    lines += ["## Why the gaps", "", *against_the_floor(report), "", *why_checks(report), "",
              *why_incremental(report), "", *_demo_why(report), "", *why_others(report)]
    by_hand = path.read_text(encoding="utf-8").partition(BY_HAND)[2] if path.exists() else ""
    path.write_text("\n".join(lines) + (f"\n{BY_HAND}{by_hand}" if by_hand else ""), encoding="utf-8")


def _incremental(report: dict) -> list[str]:
    incremental = report.get("incremental")
    if not incremental:
        return []
    first, added, full = incremental["first"], incremental["added"], incremental["full"]
    built = incremental["months_built"]
    return [
        "## Incremental months",
        "",
        f"{built + 1} months of {_size(incremental['events_per_month'])} transactions "
        f"({_size(incremental['events'])} in all):",
        "",
        "| run | months processed | wall time (s) | Dagster run (s) | extract step (s) | peak memory (MB) |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {name} | {months} | {run['seconds']:.1f} | {run['run_seconds']:.1f} | "
          f"{run['extract_step_seconds']:.1f} | {run['peak_mb']:,.0f} |"
          for name, months, run in (("first build", built, first), ("one new month on top", 1, added),
                                    ("full rebuild", built + 1, full))),
        "",
        f"The one-month run read {added['rows_read']:,} extract rows (month {built + 1} alone), the full rebuild "
        f"{full['rows_read']:,}. The published KPI files after the incremental month are "
        + ("byte-identical to those of the full rebuild." if incremental["same_published_kpis"]
           else "**not** identical to those of the full rebuild: "
           + ", ".join(incremental.get("differing_published_kpis", [])) + " differ."),
        "",
    ]


def _scale(report: dict) -> list[str]:
    """The last `make bench SIZE=...` run (its own date and load)."""
    run = report.get("scale")
    if not run:
        return ["## A billion events", "", "Not measured yet: `make bench SIZE=1B`.", ""]
    size, p = run["size"], run["size"]["paths"].get("pipeline", {})
    head = [f"## {_size(size['events'])} events", "",
            f"`make bench SIZE={_size(size['events'])}` (`python -m benchmarks.run --scale {_size(size['events'])}`) "
            f"on {run['started']}, load average {run['machine']['load_before'][0]:.1f} before and "
            f"{run['load_after'][0]:.1f} after, on 2 cores (the run itself counts in the second; other jobs would "
            f"show in both). {size['events']:,} transactions "
            f"over {size['months']} months in {size['files']} files of 5 million rows "
            f"({size.get('file_bytes', 0) / 1e9:.1f} GB of Parquet, generated in {size['generate_seconds'] / 60:.0f} "
            "minutes and deleted after the run), through the whole pipeline as above.", ""]
    if "seconds" not in p:
        return [*head, f"The run did not finish: {p}", ""]
    steps = p.get("step_seconds", {})
    return [*head,
            "| wall time (s) | events per second | peak memory (MB) | archive step (s) | extract step (s) | "
            "of which duplicate check (s) | of which aggregation with row rules (s) | other steps (s) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {p['seconds']:.0f} | {size['events'] / p['seconds']:,.0f} | {p['peak_mb']:,.0f} | "
            f"{steps.get('raw_agency_returns', 0):.0f} | {p['extract_step_seconds']:.0f} | {p['gate_seconds']:.0f} | "
            f"{p['aggregation_seconds']:.0f} | "
            f"{p['run_seconds'] - p['extract_step_seconds'] - steps.get('raw_agency_returns', 0):.0f} |",
            "",
            f"{p.get('ids_ascending', 0)} of {size['months'] * 2} agency-months were proven free of repeated ids "
            "without a sort (the generated ids ascend within files); months of more than 40M rows in one agency "
            "take their quantiles in two passes, to stay within DuckDB's 1 GB budget.", ""]


def _fixed_costs(report: dict) -> list[str]:
    lines = ["## Start-up, `make demo` and the monthly path", ""]
    imports = report.get("imports")
    if imports:
        m = imports["median_seconds"]
        lines += [f"Start-up: in {imports['runs']} fresh processes each, taken in turns, `import "
                  f"pipelines.definitions` took a median of {m['pipelines.definitions']:.2f} s "
                  f"({', '.join(f'{s:.2f}' for s in imports['seconds']['pipelines.definitions'])}) and `import "
                  f"dagster` {m['dagster']:.2f} s ({', '.join(f'{s:.2f}' for s in imports['seconds']['dagster'])}): "
                  f"{imports['ratio']:.2f}x (the interpreter's own start-up left out of both).", ""]
    demo = report.get("demo", {})
    if "seconds" in demo:
        lines += [f"`make demo` after set-up: {demo['seconds']:.1f} s ({demo['commands']['example_data']:.1f} s "
                  f"writing the example agencies' returns, {demo['commands']['run']:.1f} s for `pipelines.run`, of "
                  f"which a {demo['run_seconds'] or 0:.1f} s Dagster run), peak memory {demo['peak_mb']:,.0f} MB.", ""]
    elif demo:
        lines += [f"`make demo`: {demo.get('failed')}", ""]
    monthly = report.get("monthly_path")
    if monthly and "seconds" in monthly:
        stages = ", ".join(f"{name} {s:.1f} s" for name, s in monthly.get("stage_seconds", {}).items())
        lines += [f"The monthly path: one month of {monthly['services']} services from {monthly['agencies']} "
                  f"agencies ({monthly['files']:,} files, {monthly['rows']:,} rows) staged, checked and published in "
                  f"{monthly['seconds']:.1f} s, peak memory {monthly['peak_rss_mb']:,.0f} MB ({stages}).", ""]
    else:
        why = (monthly or {}).get("failed") or "not run"
        lines += [f"The monthly path (700 services from 100 agencies): not measured in this run ({why}).", ""]
    site = report.get("site")
    if site and "build" in site:
        lines += [f"The dashboards for a national catalogue of {site['services']:,} services (`make bench SITE=N`): "
                  f"`npm run sources` {site['sources']['seconds']:.0f} s, `npm run build:strict` "
                  f"{site['build']['seconds']:.0f} s ({site['build']['cpu_seconds']:.0f} s of CPU, peak memory "
                  f"{site['build']['peak_rss_mb']:,} MB, load {site['build']['load_before']} before), "
                  f"{site['pages']:,} pages of which {site['service_pages']:,} service pages.", ""]
    elif site:
        lines += [f"The dashboards for a national catalogue: not measured in this run ({site.get('failed')}).", ""]
    return lines


def _demo_why(report: dict) -> list[str]:
    demo = report.get("demo", {})
    if "slowest_steps" not in demo:
        return []
    slowest = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in demo["slowest_steps"])
    return [f"**`make demo`.** {demo['seconds']:.0f} s; the slowest steps of its run: {slowest} (36 months, ten "
            "agencies, three layouts; no extract in the example data)."]


def main() -> None:
    import json
    import sys

    source = Path(sys.argv[1] if len(sys.argv) > 1 else "data/bench/results.json")
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("RESULTS.md")
    write_results(json.loads(source.read_text()), target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
