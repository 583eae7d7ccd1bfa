"""Transaction-level extracts at any size, written by DuckDB straight to Parquet (or CSV), never through Python rows.

    python -m benchmarks.generate --events 10000000 --out data/bench/example [--months 1 --start 2025-01]

Writes a data folder for the pipeline (PIPELINE_DATA_DIR=<out>) and its source registry
(PIPELINE_CONFIG_DIR=<out>/config: the agencies of benchmarks/sources.yaml, mapping `extract`):
<out>/landing/catalogue/services.csv and, per agency and month, <out>/landing/<agency>/<YYYY-MM>/extract-NNN.parquet,
one row per transaction (transaction_id, service_id, channel, started_at, completed_at or NULL, outcome). The data
is clean (every row passes the quality gates), so the pipeline's figures must equal the floor query's exactly.

Realistic skew: service k of an agency gets a share of volume falling as a power of k, so the three biggest services
carry about half of the transactions and the smallest a few in a thousand; online dominates most services, paper
and phone take longer, completion rates and times differ by service. Every value is a hash of the row number, so
the same arguments give the same files on any machine, whatever the number of threads.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import shutil
from pathlib import Path

import duckdb
import yaml
from transforms.domain import CHANNELS, add_months

SOURCES = Path(__file__).with_name("sources.yaml")
MAPPING = Path(__file__).resolve().parent.parent / "config" / "mappings" / "extract.yaml"
SKEW = 4.0  # service index = floor(services x u^SKEW): P(the first k of n) = (k/n)^(1/SKEW)
ROWS_PER_FILE = 5_000_000  # about a day of a large department's transactions


# Per agency of benchmarks/sources.yaml: service id prefix, number of services, share of all transactions.
SCALE = {"customs": ("CUS", 30, 0.7), "licensing": ("LIC", 18, 0.3)}



def _month_starts(start: str, months: int) -> list[dt.date]:
    first = dt.date.fromisoformat(f"{start}-01")
    return [add_months(first, n) for n in range(months)]

def agencies() -> list[dict]:
    """The registry's extract agencies, with their benchmark scale."""
    entries = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))["agencies"]
    return [{**a, **dict(zip(("prefix", "services", "volume_share"), SCALE[a["id"]]))} for a in entries]


def services() -> list[dict]:
    """Per agency `services` services, each with its share of the agency's volume, channel mix and timings."""
    rows = []
    for a, agency in enumerate(agencies()):
        count = agency["services"]
        for k in range(count):
            r = (a * 7919 + k * 104729) % 1000 / 1000  # a fixed pseudo-random number per service
            online = 0.45 + 0.5 * r if k % 9 != 8 else 0.0  # every ninth service has no online channel
            rest = 1 - online
            mix = {"online": online, "phone": rest * 0.35, "face_to_face": rest * 0.15, "paper": rest * 0.3,
                   "assisted_digital": rest * 0.15 if online else 0.0, "other": rest * 0.05}
            rows.append({
                "agency_id": agency["id"], "index": k, "service_id": f"{agency['prefix']}-{k + 1:03d}",
                "name": f"{agency['name']} service {k + 1}", "department": agency["department"],
                "share": ((k + 1) / count) ** (1 / SKEW) - (k / count) ** (1 / SKEW),
                "channels": [c for c in CHANNELS if mix[c] > 0], "mix": mix,
                "completion": 0.55 + 0.4 * ((r * 7) % 1),
                "median_hours": round(0.2 * 10 ** (3 * ((r * 13) % 1)), 3),  # 12 minutes to 8 days
            })
    return rows


def write_config(out: Path) -> Path:
    """A config folder (for PIPELINE_CONFIG_DIR) whose registry is the extract agencies; housekeeping and the
    open-data metadata are the project's."""
    config = out / "config"
    (config / "mappings").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCES, config / "sources.yaml")
    shutil.copyfile(MAPPING, config / "mappings" / "extract.yaml")
    for name in ("housekeeping.yaml", "open_data.yaml"):
        shutil.copyfile(MAPPING.parents[1] / name, config / name)
    return config


def write_catalogue(landing: Path, rows: list[dict]) -> None:
    path = landing / "catalogue" / "services.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["service_id", "service_name", "agency_id", "department", "category", "customer_type",
                         "channels_offered", "high_volume"])
        for s in rows:
            writer.writerow([s["service_id"], s["name"], s["agency_id"], s["department"], "registration",
                             "citizen", ";".join(s["channels"]), "true"])


def _service_table(con, rows: list[dict]) -> None:
    """One row per service with its cumulative channel shares and timings, joined to every event by index."""
    table = []
    for s in rows:
        cumulative, edges = 0.0, []
        for channel in CHANNELS:
            cumulative += s["mix"][channel]
            edges.append(cumulative)
        table.append([s["agency_id"], s["index"], s["service_id"], *edges[:-1], s["completion"],
                      math.log(s["median_hours"] * 3600)])
    con.execute("CREATE OR REPLACE TEMP TABLE services (agency_id VARCHAR, idx BIGINT, service_id VARCHAR, "
                "c1 DOUBLE, c2 DOUBLE, c3 DOUBLE, c4 DOUBLE, c5 DOUBLE, completion DOUBLE, log_median DOUBLE)")
    con.executemany("INSERT INTO services VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", table)


# Uniform numbers in [0, 1) from a hash of (row, k): deterministic whatever the threads or the file split.
EVENTS = """
WITH events AS (
    SELECT
        i,
        floor($services * pow((hash(i * 8 + 1) >> 11) / 9007199254740992.0, $skew))::BIGINT AS idx,
        (hash(i * 8 + 2) >> 11) / 9007199254740992.0 AS u_channel,
        (hash(i * 8 + 3) >> 11) / 9007199254740992.0 AS u_complete,
        greatest((hash(i * 8 + 4) >> 11) / 9007199254740992.0, 1e-12) AS u_time_1,
        (hash(i * 8 + 5) >> 11) / 9007199254740992.0 AS u_time_2,
        (hash(i * 8 + 6) >> 11) / 9007199254740992.0 AS u_start,
        (hash(i * 8 + 7) >> 11) / 9007199254740992.0 AS u_outcome
    FROM range($first, $last) AS r(i)
),

typed AS (
    SELECT
        events.*,
        s.service_id,
        CASE WHEN u_channel < s.c1 THEN 'online' WHEN u_channel < s.c2 THEN 'phone'
             WHEN u_channel < s.c3 THEN 'face_to_face' WHEN u_channel < s.c4 THEN 'paper'
             WHEN u_channel < s.c5 THEN 'assisted_digital' ELSE 'other' END AS channel,
        u_complete < s.completion AS completes,
        s.log_median
    FROM events JOIN services AS s ON s.agency_id = $agency AND s.idx = events.idx
)

SELECT
    $prefix || '-' || $period || '-' || lpad(CAST(i AS VARCHAR), 10, '0') AS transaction_id,
    service_id,
    channel,
    CAST($month AS TIMESTAMP) + to_seconds(floor(u_start * $seconds)::BIGINT) AS started_at,
    CASE WHEN completes THEN
        CAST($month AS TIMESTAMP) + to_seconds(floor(u_start * $seconds)::BIGINT)
        + to_seconds(greatest(1, round(exp(log_median
            + ln(CASE channel WHEN 'online' THEN 1.0 WHEN 'phone' THEN 2.0 WHEN 'face_to_face' THEN 1.5
                 WHEN 'paper' THEN 6.0 WHEN 'assisted_digital' THEN 1.8 ELSE 3.0 END)
            + 0.9 * sqrt(-2 * ln(u_time_1)) * cos(2 * pi() * u_time_2)))::BIGINT))
    END AS completed_at,
    CASE WHEN completes THEN 'completed' WHEN u_outcome < 0.7 THEN 'abandoned' ELSE 'in_progress' END AS outcome
FROM typed
"""


def generate(out: Path, events: int, months: int = 1, start: str = "2025-01", file_format: str = "parquet",
             rows_per_file: int = ROWS_PER_FILE, threads: int | None = None) -> dict:
    """Write the registry, the catalogue and `events` transactions spread evenly over `months` months."""
    rows = services()
    write_config(out)
    landing = out / "landing"
    write_catalogue(landing, rows)
    con = duckdb.connect(config={"threads": threads} if threads else {})
    _service_table(con, rows)
    volumes = {a["id"]: a["volume_share"] for a in agencies()}
    written, first = [], 0
    periods = _month_starts(start, months)
    for agency in agencies():
        per_month = round(events * volumes[agency["id"]] / sum(volumes.values()) / months)
        count = sum(1 for s in rows if s["agency_id"] == agency["id"])
        for month in periods:
            following = _month_starts(month.strftime("%Y-%m"), 2)[1]
            seconds = (following - month).days * 86400
            folder = landing / agency["id"] / month.strftime("%Y-%m")
            folder.mkdir(parents=True, exist_ok=True)
            files = max(1, math.ceil(per_month / rows_per_file))
            for f in range(files):
                lo, hi = first + per_month * f // files, first + per_month * (f + 1) // files
                path = folder / f"extract-{f:03d}.{file_format}"
                options = "FORMAT parquet" if file_format == "parquet" else "FORMAT csv, HEADER true"
                con.execute(f"COPY ({EVENTS}) TO '{path}' ({options})", {
                    "services": count, "skew": SKEW, "first": lo, "last": hi, "agency": agency["id"],
                    "prefix": agency["prefix"], "period": month.strftime("%Y%m"), "month": month,
                    "seconds": seconds})
                written.append(path)
            first += per_month
    con.close()
    return {"events": first, "files": written, "months": [m.isoformat() for m in periods], "services": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the data folder to write into")
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--start", default="2025-01")
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    args = parser.parse_args()
    result = generate(args.out, args.events, args.months, args.start, args.format)
    print(f"{result['events']:,} events in {len(result['files'])} files, {result['services']} services, "
          f"months {result['months'][0]} to {result['months'][-1]}")


if __name__ == "__main__":
    main()
