"""Performance-Platform records: the JSON format of the former GOV.UK Performance Platform, still published by
UK departments. One record per figure: `_timestamp` (period start), `service`, `channel`, `count`, `dataType`
(the publisher's own schema spells it `datatype`; both are read) and `period`.

`validate_records` turns them into long rows (service_id, month, channel, measure, value) with the same
quarantine mechanism as the monthly returns. Measures: rating_1..rating_5 (survey counts, 1 = very
dissatisfied), reported_satisfaction_percent, reported_digital_take_up_percent, uptime_percent.
"""

from __future__ import annotations

import polars as pl

from transforms.domain import CHANNELS
from transforms.mappings import Records
from transforms.row_rules import NUMBER_TEXT, is_whole, shape_rules
from transforms.staging import FILE, ROW, SHAPE, Rule, apply_rules, first_failures, mark_duplicates

DATA_TYPES = {
    "very-dissatisfied": "rating_1", "dissatisfied": "rating_2", "neither": "rating_3", "satisfied": "rating_4",
    "very-satisfied": "rating_5", "user-satisfaction-percent": "reported_satisfaction_percent",
    "digital-take-up": "reported_digital_take_up_percent", "uptime-percent": "uptime_percent",
}
PERCENTS = ("reported_satisfaction_percent", "reported_digital_take_up_percent", "uptime_percent")
COLUMNS = ["service_id", "month", "channel", "measure", "value"]


def validate_records(frame: pl.DataFrame, mapping: Records, agency_id: str,
                     catalogue: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted long rows, quarantined records). `mapping` names the publisher's service slugs
    (`services: {slug: service_id}`) and channels (`channels: {digital: online}`)."""
    for column in ("_timestamp", "service", "channel", "count", "period", SHAPE):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    data_type = pl.coalesce(*(pl.col(c) for c in ("dataType", "datatype") if c in frame.columns)) \
        if {"dataType", "datatype"} & set(frame.columns) else pl.lit(None, pl.String)
    timestamp = pl.col("_timestamp").str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    frame = frame.with_columns(
        data_type.alias("data_type"),
        pl.col("service").replace_strict(mapping.services, default=None).alias("service_id"),
        pl.col("channel").replace(mapping.channels).alias("channel"),
        data_type.replace_strict(DATA_TYPES, default=None).alias("measure"),
        timestamp.alias("month"),
        pl.col("count").cast(pl.Float64, strict=False).alias("value"),
    ).join(catalogue.select("service_id", pl.col("agency_id").alias("catalogue_agency_id")),
           on="service_id", how="left", maintain_order="left")
    count = pl.col("measure").str.starts_with("rating_")
    checks = [
        *shape_rules(),
        Rule("unknown_service", "service", pl.col("service_id").is_null() | pl.col("catalogue_agency_id").is_null(),
             "the service is not in this source's mapping or not in the service catalogue"),
        Rule("service_of_another_agency", "service", pl.col("catalogue_agency_id") != agency_id,
             "the catalogue gives this service to another agency"),
        Rule("unknown_data_type", "data_type", pl.col("measure").is_null(),
             f"dataType is not one of {', '.join(DATA_TYPES)}"),
        Rule("period_not_supported", "period", pl.col("period") != "month", "only monthly records are read"),
        Rule("timestamp_not_a_date", "_timestamp", pl.col("month").is_null(), "_timestamp is not an ISO date"),
        Rule("timestamp_not_start_of_month", "_timestamp", pl.col("month").dt.day() != 1,
             "a monthly record's _timestamp is the first day of its month"),
        Rule("unknown_channel", "channel", ~pl.col("channel").is_in(CHANNELS),
             f"channel is not one of {', '.join(CHANNELS)} after the mapping"),
        Rule("not_a_number", "count", pl.col("value").is_null() | ~pl.col("count").str.contains(NUMBER_TEXT),
             "count is not a number"),
        Rule("not_a_number", "count", count & ~is_whole("count"), "a count of responses is not a whole number"),
        Rule("value_out_of_range", "count", count & (pl.col("value").abs() >= 2**53),  # 2^53 + 1 reads as 2^53
             "a count of 2^53 or more cannot be held exactly (stg_reported_figures keeps a DOUBLE)"),
        Rule("negative_count", "count", pl.col("value") < 0, "count is negative"),
        Rule("percent_out_of_range", "count", pl.col("measure").is_in(PERCENTS) & (pl.col("value") > 100),
             "a percentage above 100"),
    ]
    checked = apply_rules(frame.sort(FILE, ROW, maintain_order=True), checks)
    failed = first_failures(checked)
    good = mark_duplicates(checked.filter(pl.col("rule").is_null()), ["service_id", "month", "channel", "measure"],
                           ["value"])
    failed = pl.concat([failed, first_failures(good)])
    accepted = good.filter(pl.col("rule").is_null()).select(*COLUMNS, FILE, ROW)
    return accepted, failed
