"""The submission sensor: new or changed submissions start a run of just the months and agencies they affect."""

import hashlib
import json
import re

import dagster as dg

from pipelines.lib.config import ConfigError
from pipelines.lib.files import landed_files, sha256_file
from pipelines.lib.partitions import AGENCIES_TAG, monthly
from pipelines.lib.resources import DataStore, Settings

MONTH_FOLDER = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def fingerprints(store: DataStore, seen: dict) -> dict[str, list]:
    """[size, mtime_ns, sha256] of every landed file; a file whose size and time are unchanged keeps its
    checksum from `seen`, so only new or touched files are read (in chunks: an extract can be many GB)."""
    current = {}
    for path in landed_files(store.landing, store.landing) if store.landing.is_dir() else []:
        key = path.relative_to(store.landing).as_posix()
        stat = path.stat()
        previous = seen.get(key)
        if previous and previous[:2] == [stat.st_size, stat.st_mtime_ns]:
            current[key] = previous
        else:
            current[key] = [stat.st_size, stat.st_mtime_ns, sha256_file(path)]
    return current


@dg.sensor(job_name="monthly_cycle", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def submission_sensor(context: dg.SensorEvaluationContext, store: DataStore, settings: Settings):
    """New or changed submissions start a run of just the months and agencies they affect. An identical
    resubmission (same checksum) starts nothing. A changed catalogue, register or record file affects every
    month, so it starts one run over all months with returns. While the configuration does not hold, nothing
    starts: the tick says why, and the changes are seen once it is fixed."""
    try:
        config = settings.config
    except ConfigError as error:
        yield dg.SkipReason(f"no run started: {error}")
        return
    seen = json.loads(context.cursor) if context.cursor else {}
    current = fingerprints(store, seen)
    changed = sorted(k for k, v in current.items() if seen.get(k, [None] * 3)[2] != v[2])
    folders = {a.folder: a for a in config.agencies}
    last_partition = monthly.get_last_partition_key()
    by_month, whole = {}, False
    for key in changed:
        parts = key.split("/")
        agency = folders.get(parts[0])
        if agency and len(parts) > 2 and MONTH_FOLDER.fullmatch(parts[1]) and agency.connector == "file_drop":
            month = f"{parts[1]}-01"
            if month > last_partition:
                context.log.warning(f"{key}: month {parts[1]} has not ended yet; it will run once it has")
                current.pop(key)  # seen again next month
                continue
            by_month.setdefault(month, set()).add(agency.id)
        else:
            whole = True
    months = sorted({f"{p.name}-01" for p in store.landing.glob("*/*") if MONTH_FOLDER.fullmatch(p.name)}
                    | set(by_month))
    months = [m for m in months if m <= last_partition]
    checksums = [current[k][2] for k in changed if k in current]
    digest = hashlib.sha256(json.dumps(checksums).encode()).hexdigest()[:16]  # a run per distinct change
    if whole and months:
        yield dg.RunRequest(run_key=f"all:{digest}", tags={"dagster/asset_partition_range_start": months[0],
                                                           "dagster/asset_partition_range_end": months[-1]})
    else:
        for month, agencies in sorted(by_month.items()):
            yield dg.RunRequest(run_key=f"{month}:{','.join(sorted(agencies))}:{digest}", partition_key=month,
                                tags={AGENCIES_TAG: ",".join(sorted(agencies))})
    context.update_cursor(json.dumps(current, sort_keys=True))
