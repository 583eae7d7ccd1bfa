"""The Dagster code location (pipelines.definitions) and the I/O around the pure transforms."""

import warnings

# Single-run backfills (a range of months in one run) are what makes a 36-month backfill take seconds.
warnings.filterwarnings("ignore", message=".*backfill_policy.*")
