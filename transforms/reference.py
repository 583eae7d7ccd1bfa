"""Validation of the central reference files: the service catalogue and the benefits register.

Same mechanism as the monthly returns (`staging.apply_rules`): a row that breaks a rule is quarantined with
the first rule it broke; every other row is typed and kept.
"""

from __future__ import annotations

import polars as pl

from transforms.domain import CHANNELS
from transforms.staging import LayoutError, Rule, apply_rules, first_failures

CATALOGUE_COLUMNS = ["service_id", "service_name", "agency_id", "department", "category", "customer_type",
                     "channels_offered", "high_volume"]
# Open vocabularies: category and customer type are free text as publishers write them; channels offered and the
# high-volume flag may be unknown (NULL). Only these are required.
CATALOGUE_REQUIRED = ["service_id", "service_name", "agency_id", "department"]
BENEFIT_COLUMNS = ["benefit_id", "title", "description", "service_id", "category", "measure", "unit",
                   "baseline_value", "baseline_month", "target_value", "target_month", "owner",
                   "senior_responsible_owner", "full_year_value_gbp", "confidence"]
# What a benefit can be measured by: a KPI of this product, or a savings measure.
MEASURES = ("cost_per_transaction_gbp", "digital_take_up_rate", "completion_rate", "satisfaction_score",
            "satisfied_share", "channel_shift_saving_gbp")
BENEFIT_CATEGORIES = ("cashable", "non-cashable", "dis-benefit")
# Optional register column: planned points between baseline and target, "YYYY-MM=value" separated by ";".
TRAJECTORY = "trajectory"
CONFIDENCE = ("high", "medium", "low")


def _require_columns(frame: pl.DataFrame, columns: list[str]) -> None:
    """A reference file without a column its rules read is set aside whole, naming the columns."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise LayoutError(f"missing required column(s): {', '.join(missing)}")


def _split(checked: pl.DataFrame, key: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows that passed, with repeats of a key after the first also quarantined."""
    checked = checked.with_columns(
        rule=pl.coalesce("rule", pl.when(pl.int_range(pl.len()).over(key) > 0).then(pl.lit("duplicate_key"))),
        column_name=pl.coalesce("column_name", pl.lit(key)),
        offending_value=pl.coalesce("offending_value", pl.col(key)),
        message=pl.coalesce("message", pl.lit(f"{key} repeats an earlier row")),
    )
    return checked.filter(pl.col("rule").is_null()), first_failures(checked)


def validate_catalogue(frame: pl.DataFrame, agency_ids: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`frame`: the catalogue as text. Returns (typed services, quarantined rows)."""
    frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in CATALOGUE_COLUMNS if c not in frame.columns)
    channels = pl.col("channels_offered").str.split(";").list.eval(pl.element().str.strip_chars())
    checks = [
        *(Rule("required_value_missing", c, pl.col(c).is_null(), f"{c} is required") for c in CATALOGUE_REQUIRED),
        Rule("unknown_agency", "agency_id", ~pl.col("agency_id").is_in(agency_ids),
             "agency_id is not in the source registry"),
        Rule("unknown_channel", "channels_offered", ~channels.list.eval(pl.element().is_in(CHANNELS)).list.all(),
             f"channels_offered must be ;-separated from {', '.join(CHANNELS)}"),
        Rule("not_a_boolean", "high_volume", ~pl.col("high_volume").str.to_lowercase().is_in(["true", "false"]),
             "high_volume is true or false (or empty: not known)"),
    ]
    if "live_from" not in frame.columns:  # optional: the month the service started
        frame = frame.with_columns(pl.lit(None, pl.String).alias("live_from"))
    live_from = pl.col("live_from").str.slice(0, 7).str.strptime(pl.Date, "%Y-%m", strict=False)
    checks.append(Rule("month_not_a_date", "live_from", pl.col("live_from").is_not_null() & live_from.is_null(),
                       "live_from is not a month (YYYY-MM or YYYY-MM-DD)"))
    good, failed = _split(apply_rules(frame, checks), "service_id")
    typed = good.select(*CATALOGUE_COLUMNS[:6], channels.alias("channels_offered"),
                        (pl.col("high_volume").str.to_lowercase() == "true").alias("high_volume"),
                        live_from.alias("live_from"))
    return typed, failed


def _trajectory_points() -> pl.Expr:
    """The trajectory's points as (month, planned_value) structs; a part that cannot be read gives nulls."""
    return (pl.col(TRAJECTORY).str.split(";")
            .list.eval(pl.element().str.strip_chars())
            .list.eval(pl.element().filter(pl.element() != ""))
            .list.eval(pl.struct(
                month=pl.element().str.extract(r"^(\d{4}-\d{2})(?:-01)?\s*=", 1)
                .str.strptime(pl.Date, "%Y-%m", strict=False),
                planned_value=pl.element().str.extract(r"=(.*)$", 1).str.strip_chars()
                .cast(pl.Float64, strict=False))))


def validate_benefits(frame: pl.DataFrame, service_ids: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`frame`: the register as text. Returns (typed benefits, quarantined rows). service_id may name a group of
    services separated by ';'. The optional `trajectory` column is kept (typed) when the register has it."""
    def number(c: str) -> pl.Expr:  # a finite number; NaN and infinities are not numbers here
        value = pl.col(c).cast(pl.Float64, strict=False)
        return pl.when(value.is_finite()).then(value)

    def month(c: str) -> pl.Expr:
        return pl.col(c).str.slice(0, 7).str.strptime(pl.Date, "%Y-%m", strict=False)

    required = [c for c in BENEFIT_COLUMNS if c not in ("description", "full_year_value_gbp")]
    _require_columns(frame, required)
    frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in ("description", "full_year_value_gbp")
                               if c not in frame.columns)
    services = pl.col("service_id").str.split(";").list.eval(pl.element().str.strip_chars())
    checks = [
        *(Rule("required_value_missing", c, pl.col(c).is_null(), f"{c} is required") for c in required),
        Rule("unknown_service", "service_id", ~services.list.eval(pl.element().is_in(service_ids)).list.all(),
             "service_id is not in the service catalogue (a group: every service separated by ';')"),
        Rule("unknown_category", "category", ~pl.col("category").is_in(BENEFIT_CATEGORIES),
             f"category is one of {', '.join(BENEFIT_CATEGORIES)}"),
        Rule("unknown_measure", "measure", ~pl.col("measure").is_in(MEASURES),
             f"measure is one of {', '.join(MEASURES)}"),
        *(Rule("not_a_number", c, pl.col(c).is_not_null() & number(c).is_null(), f"{c} is not a number")
          for c in ("baseline_value", "target_value", "full_year_value_gbp")),
        *(Rule("month_not_a_date", c, month(c).is_null(), f"{c} is not a date") for c in ("baseline_month",
                                                                                             "target_month")),
        Rule("target_before_baseline", "target_month", month("target_month") <= month("baseline_month"),
             "target_month is not after baseline_month"),
        Rule("no_change_planned", "target_value", number("target_value") == number("baseline_value"),
             "target_value equals baseline_value: there is nothing to realise"),
        Rule("unknown_confidence", "confidence", ~pl.col("confidence").is_in(CONFIDENCE),
             f"confidence is one of {', '.join(CONFIDENCE)}"),
    ]
    columns = list(BENEFIT_COLUMNS)
    if TRAJECTORY in frame.columns:
        points = _trajectory_points()
        checks += [
            Rule("trajectory_not_valid", TRAJECTORY,
                 points.list.eval(pl.element().struct.field("month").is_null()
                                  | pl.element().struct.field("planned_value").is_null()).list.any()
                 | (points.list.eval(pl.element().struct.field("month")).list.n_unique() != points.list.len()),
                 "trajectory is 'YYYY-MM=value' points separated by ';', one per month, every value a number"),
            Rule("trajectory_outside_baseline_to_target", TRAJECTORY,
                 (points.list.eval(pl.element().struct.field("month")).list.min() <= month("baseline_month"))
                 | (points.list.eval(pl.element().struct.field("month")).list.max() >= month("target_month")),
                 "trajectory points lie after baseline_month and before target_month"),
        ]
        columns.append(TRAJECTORY)
    good, failed = _split(apply_rules(frame, checks), "benefit_id")
    typed = good.select(*(number(c).alias(c) if c in ("baseline_value", "target_value", "full_year_value_gbp")
                          else month(c).alias(c) if c in ("baseline_month", "target_month")
                          else services.list.join(";").alias(c) if c == "service_id"
                          else _trajectory_points().alias(c) if c == TRAJECTORY else pl.col(c)
                          for c in columns))
    return typed, failed
