"""Monthly partitions (one per calendar month of agency returns, from the configured first month) and the monthly
cycle's calendar."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import yaml

from pipelines.lib.config.sources import CYCLE_DAY, DEFAULT_FIRST_MONTH, EARLIEST_MONTH
from transforms.catalogue import Freshness


def configured_first_month(config_dir: Path | None = None) -> str:
    """sources.yaml's first_month (YYYY-MM), read when the code location loads: Dagster needs partitions with the
    definitions, before any run (and its Settings resource) exists. The configuration is checked in full when a
    run starts; a value that does not hold here falls back to the default."""
    folder = config_dir or Path(os.environ.get("PIPELINE_CONFIG_DIR") or Path(__file__).parents[2] / "config")
    try:
        value = str((yaml.safe_load((folder / "sources.yaml").read_text()) or {}).get("first_month", ""))
        dt.date.fromisoformat(f"{value}-01")
    except (OSError, ValueError, yaml.YAMLError, AttributeError):
        return DEFAULT_FIRST_MONTH
    return value if value >= EARLIEST_MONTH else DEFAULT_FIRST_MONTH


# From the first month configured, so that a small deployment shows no decades of phantom partitions and a
# history from 2011 needs one line of configuration, not code.
monthly = dg.MonthlyPartitionsDefinition(start_date=f"{configured_first_month()}-01", end_offset=0)

# Why a month shows as missing in the Dagster UI. The partitions run to the clock, not to the data: a month is a
# partition as soon as it has ended, whether or not a return for it has landed. Said after each run that leaves such
# months (pipelines/run.py) and in the description of every asset partitioned by month (pipelines/definitions.py).
MISSING_MONTHS = (
    "A month shows as missing until a run has covered it: the submission sensor runs a month when a return for it "
    "lands, the monthly schedule runs the month just ended on the 21st, and `make run` runs the months that have "
    "returns under data/landing/ (`python -m pipelines.run --start YYYY-MM --end YYYY-MM` any others, with or "
    "without returns).")
MONTHLY_ASSET_NOTE = (
    f"Partitioned by month, from first_month (config/sources.yaml) to the last month that has ended. {MISSING_MONTHS} "
    "So after `make demo`, the months after the example data's last one are missing: nothing has landed for them.")


TIMEZONE = "Europe/London"


def freshness_policy(freshness: Freshness | None) -> dg.FreshnessPolicy | None:
    """A catalogue entry's freshness (by what hour of cycle day the table must have been rebuilt) as the policy
    Dagster's daemon evaluates (config/dagster.yaml: freshness enabled), never inside a run."""
    if freshness is None:
        return None
    return dg.FreshnessPolicy.cron(deadline_cron=f"0 {freshness.hour} {CYCLE_DAY} * *",
                                   lower_bound_delta=dt.timedelta(hours=freshness.within_hours), timezone=TIMEZONE)


def months_in(window: dg.TimeWindow) -> list[dt.date]:
    """The first day of each month in a partition window (a run may cover a range of months)."""
    months, day = [], window.start.date()
    while day < window.end.date():
        months.append(day)
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


AGENCIES_TAG = "pipeline/agencies"  # set by the submission sensor: only these agencies' returns are re-staged


def agencies_of_run(context) -> list[str] | None:
    """The agencies a run is limited to (comma-separated in its tags), or None for all."""
    tag = context.run.tags.get(AGENCIES_TAG)
    return sorted(tag.split(",")) if tag else None
