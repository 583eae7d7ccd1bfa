"""From a submitted table (all cells as text) to typed canonical rows and quarantined rows.

Pure Polars, no I/O and no Dagster. Two steps:
- `normalise`: apply an agency's declarative mapping (renames, value labels, markers, scale, month format,
  wide-to-long unpivot, header-encoded columns, channels offered listed in the return: `transforms/layouts.py`)
  so the frame has the canonical column names, still as text.
- `validate`: apply the rules of a return type in order. A source row that breaks any rule is quarantined
  whole, with the first rule it broke, the column and the offending value; every other row is typed and kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.domain import CHANNELS, COST_CATEGORIES
from transforms.layouts import (ALL, MONTHS, OFFERED, REPORTED_COLUMNS, from_headers, header_columns,
                                offered_from_return, reported_rules, with_periods)

ROW = "_row_number"  # the data row in its file, 1 = the first row under the header
FILE = "_source_file"
TOTAL = "_reported_total"  # a total reported beside wide channel columns, checked then dropped
SHAPE = "_row_shape"  # set by the reader when a CSV row has the wrong number of fields
NUMERIC = ("transactions_started", "transactions_completed", "cost_gbp", "rating_1", "rating_2", "rating_3",
           "rating_4", "rating_5", TOTAL)

COLUMNS = {
    "transactions": ["service_id", "month", "channel", "transactions_started", "transactions_completed"],
    "costs": ["service_id", "month", "cost_category", "channel", "cost_gbp"],
    "satisfaction": ["service_id", "month", "channel", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5"],
}
REQUIRED = {
    "transactions": ["service_id", "month", "channel", "transactions_completed"],
    "costs": ["service_id", "month", "cost_category", "channel", "cost_gbp"],
    "satisfaction": COLUMNS["satisfaction"],
}
KEYS = {  # a return may hold figures for several periods ending in its month (say a quarter and a month)
    "transactions": ["service_id", "grain", "period_start", "channel"],
    "costs": ["service_id", "grain", "period_start", "cost_category", "channel"],
    "satisfaction": ["service_id", "grain", "period_start", "channel"],
}
PERIOD = ["period_start", "period_end", "grain"]
COUNTS = {
    "transactions": ["transactions_started", "transactions_completed"],
    "costs": [],
    "satisfaction": ["rating_1", "rating_2", "rating_3", "rating_4", "rating_5"],
}


class LayoutError(ValueError):
    """The file as a whole does not fit its declared layout (the whole file is quarantined)."""


def normalise(frame: pl.DataFrame, layout: dict, return_type: str) -> pl.DataFrame:
    """Canonical column names and values, still text; `_row_number` and `_source_file` are carried through."""
    frame = frame.rename({k: v for k, v in layout.get("rename", {}).items() if k in frame.columns})
    text = [c for c in frame.columns if c not in (ROW, FILE, SHAPE)]
    markers = [*layout.get("not_provided", []), *layout.get("not_applicable", []), *layout.get("ambiguous", [])]
    frame = frame.with_columns(pl.col(text).str.strip_chars())
    if layout.get("channels_offered"):
        if layout["channels_offered"]["column"] not in frame.columns:
            raise LayoutError(f"missing required column(s): {layout['channels_offered']['column']}")
        frame = offered_from_return(frame, layout["channels_offered"])
    if layout.get("headers"):
        frame = _from_headers(frame, layout)
    elif layout.get("unpivot"):
        frame = _unpivot(frame, layout)
    if layout.get("thousands"):
        frame = frame.with_columns(pl.col(c).str.replace_all(layout["thousands"], "", literal=True)
                                   for c in (*NUMERIC, *REPORTED_COLUMNS) if c in frame.columns)
    if markers:
        cells = [c for c in frame.columns if c not in (ROW, FILE, SHAPE, OFFERED, MONTHS)]
        frame = frame.with_columns(pl.when(pl.col(c).is_in(markers)).then(None).otherwise(pl.col(c)).alias(c)
                                   for c in cells)
    if OFFERED in frame.columns and "channel" in frame.columns:  # the return says the channel is not offered
        frame = frame.filter(~(pl.col("channel").is_in(CHANNELS) & pl.col("transactions_completed").is_null()
                               & ~pl.col(OFFERED).list.contains(pl.col("channel"))).fill_null(False))
    for column, labels in layout.get("values", {}).items():
        if column in frame.columns:
            frame = frame.with_columns(pl.col(column).replace(labels))
    for column, factor in layout.get("scale", {}).items():
        scaled = (pl.col(column).cast(pl.Float64, strict=False) * factor).round(2)
        frame = frame.with_columns(pl.when(scaled.is_not_null()).then(scaled.cast(pl.String))
                                   .otherwise(pl.col(column)).alias(column))
    if layout.get("month_format") and "month" in frame.columns:
        parsed = pl.col("month").str.strptime(pl.Date, layout["month_format"], strict=False)
        frame = frame.with_columns(pl.when(parsed.is_not_null()).then(parsed.cast(pl.String))
                                   .otherwise(pl.col("month")).alias("month"))
    missing = [c for c in REQUIRED[return_type] if c not in frame.columns]
    if missing:
        raise LayoutError(f"missing required column(s): {', '.join(missing)}")
    frame = with_periods(frame)
    present = [pl.col(c) if c in frame.columns else pl.lit(None, pl.String).alias(c)
               for c in [*COLUMNS[return_type], SHAPE]]
    extra = [c for c in (TOTAL, *REPORTED_COLUMNS) if c in frame.columns]
    return frame.select(*present, *PERIOD, *extra, FILE, ROW)


def _from_headers(frame: pl.DataFrame, layout: dict) -> pl.DataFrame:
    read = header_columns(frame.columns, layout["headers"])
    keep = [c for c in frame.columns if c not in read and c != "month"] + (["_month"] if "month" in frame.columns
                                                                           else [])
    if "month" in frame.columns:  # a period named in a column, for families whose headers name none
        frame = frame.rename({"month": "_month"})
    try:
        long = from_headers(frame, layout["headers"], keep)
    except ValueError as error:
        raise LayoutError(str(error)) from None
    if "_month" in long.columns:
        long = long.with_columns(pl.coalesce("month", "_month").alias("month")).drop("_month")
    not_applicable = layout.get("not_applicable", [])
    return long.filter(~pl.col("transactions_completed").is_in(not_applicable).fill_null(False))


def _unpivot(frame: pl.DataFrame, layout: dict) -> pl.DataFrame:
    unpivot = layout["unpivot"]
    total = unpivot.get("total")
    missing = [c for c in [*([total] if total else []), *unpivot["columns"]] if c not in frame.columns]
    if missing:
        raise LayoutError(f"missing required column(s): {', '.join(missing)}")
    not_applicable = layout.get("not_applicable", [])
    if total:
        frame = frame.rename({total: TOTAL})
    index = [c for c in frame.columns if c not in unpivot["columns"]]
    long = (frame.unpivot(on=list(unpivot["columns"]), index=index, variable_name="channel",
                          value_name=unpivot["value"])
            .filter(~pl.col(unpivot["value"]).is_in(not_applicable) | pl.col(unpivot["value"]).is_null())
            .with_columns(pl.col("channel").replace_strict(unpivot["columns"])))
    if not total or unpivot["value"] != "transactions_completed":
        return long
    # the reported total is also kept, for the whole service (channel 'all'), after the channels of its row
    whole = frame.select(index).with_columns(pl.lit(ALL).alias("channel"), pl.lit(None, pl.String).alias(
        unpivot["value"]), pl.col(TOTAL).alias("reported_transactions_completed"))
    return pl.concat([long, whole], how="diagonal_relaxed").sort(ROW, maintain_order=True)


@dataclass(frozen=True)
class Rule:
    name: str
    column: str
    broken: pl.Expr
    message: str


BIGINT_MAX = 2**63 - 1
# 12, -3.5, 1e3, 2.5E+2, read as exact decimals; ASCII digits only (a regex's \d also matches other scripts' digits)
NUMBER_TEXT = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
# What a reader says in _row_shape about a row it could not read as sent: (rule, how the note starts, message).
ROW_PROBLEMS = [
    ("wrong_number_of_fields", r"^\d+ fields where", "the row has the wrong number of fields (a truncated or "
                                                      "mis-delimited line)"),
    ("unterminated_quote", "^an unterminated quote", "a quoted field opens on this row and never closes; the rows "
                                                     "after it are read on their own"),
    ("stray_quote", "^a stray quote", "a quote inside a field that is not quoted whole"),
    ("line_too_long", "^a line over", "the line is longer than files.max_line_bytes"),
    ("field_too_long", "^a cell over", "a cell is longer than files.max_field_bytes"),
]


def _exact(column: str) -> pl.Expr:
    """The text as an exact decimal (never through a float): null when it is not a number or has more than 29
    digits before the point."""
    return pl.when(pl.col(column).str.contains(NUMBER_TEXT)).then(pl.col(column).cast(pl.Decimal(38, 9), strict=False))


def _is_whole(column: str) -> pl.Expr:
    return _exact(column) == _exact(column).floor()


def _whole(column: str) -> pl.Expr:
    """A count as an exact integer, or null when the text is not a whole number or does not fit in a BIGINT."""
    return pl.when(_is_whole(column)).then(_exact(column).cast(pl.Int64, strict=False))


def _not_finite(column: str) -> Rule:
    number = pl.col(column).cast(pl.Float64, strict=False)
    return Rule("not_finite", column, number.is_nan() | number.is_infinite(),
                f"{column} is not a finite number (NaN or infinity)")


def _count_rules(column: str, max_count: int) -> list[Rule]:
    """A count: finite, a whole number, within max_count (at most the largest BIGINT), not negative."""
    whole = _whole(column)
    return [_not_finite(column),
            Rule("not_a_number", column, pl.col(column).is_not_null() & ~pl.col(column).str.contains(NUMBER_TEXT),
                 f"{column} is not a whole number"),
            Rule("not_a_number", column, _is_whole(column).not_(), f"{column} is not a whole number"),
            Rule("value_out_of_range", column, pl.col(column).is_not_null() & (whole.is_null() | (whole > max_count)),
                 f"{column} is above {max_count:,} (values.max_count)"),
            Rule("negative_count", column, whole < 0, f"{column} is negative")]


def _sum_rule(columns: list[str], weights: list[int], max_count: int) -> Rule:
    """The counts of a service's period added over its channels (weighted: a satisfaction score multiplies each
    rating by its weight) must fit, or every sum built on them would overflow."""
    group = ["service_id", "grain", "period_start"]
    total = pl.sum_horizontal([_whole(c).cast(pl.Int128) * w for c, w in zip(columns, weights)])
    return Rule("value_out_of_range", columns[-1], total.sum().over(group) > max_count,
                f"{' + '.join(columns)} over the service's channels add up to more than {max_count:,} "
                "(values.max_count)")


def _not_a_number(column: str, whole: bool) -> Rule:
    broken = pl.col(column).is_not_null() & ~pl.col(column).str.contains(NUMBER_TEXT)
    return Rule("not_a_number", column, (broken | _is_whole(column).not_()) if whole else broken,
                f"{column} is not {'a whole number' if whole else 'a number'}")


def rules(return_type: str, agency_id: str, month: str, reported_total: bool = False, max_count: int = BIGINT_MAX,
          max_cost_gbp: float = 1e12, history: bool = False, first_month: str | None = None) -> list[Rule]:
    """The rules of a return type, in the order they are applied. Needs the catalogue joined in
    (`catalogue_agency_id`, `channels_offered`); `reported_total` adds the checks of a wide row's total;
    `max_count` and `max_cost_gbp` are the ceilings of config/limits.yaml; `history`: the return may hold any
    period up to its month; `first_month`: none before it is accepted."""
    channels = CHANNELS + ("shared",) if return_type == "costs" else CHANNELS + (ALL,)
    ends = pl.col("period_end").dt.strftime("%Y-%m")
    common = [
        *(Rule(name, SHAPE, pl.col(SHAPE).str.contains(start), message) for name, start, message in ROW_PROBLEMS),
        Rule("unreadable_row", SHAPE, pl.col(SHAPE).is_not_null(), "the row could not be read as it was sent"),
        # an empty count of transactions means "not provided"; costs are checked after their category
        *(Rule("required_value_missing", c, pl.col(c).is_null(), f"{c} is required")
          for c in REQUIRED[return_type] if c not in ("transactions_completed", "cost_gbp")),
        Rule("unknown_service", "service_id", pl.col("catalogue_agency_id").is_null(),
             "service_id is not in the service catalogue"),
        Rule("service_of_another_agency", "service_id", pl.col("catalogue_agency_id") != pl.lit(agency_id),
             "the catalogue gives this service to another agency"),
        Rule("period_not_recognised", "month", pl.col("period_start").is_null(),
             "the period is not one the pipeline reads (a month such as 2024-03 or Mar 2024, a quarter such as "
             "2024 Q1, a financial year such as 2024-25, or a span such as April 2024 to March 2025)"),
        Rule("month_outside_return_period", "month", (ends > pl.lit(month[:7])) if history
             else (ends != pl.lit(month[:7])),
             f"the period does not end {'by' if history else 'in'} this return's month {month[:7]}"),
        Rule("period_before_first_month", "month", pl.col("period_start") < pl.lit(first_month or "2000-01-01").str
             .to_date(), f"the period starts before {(first_month or '2000-01')[:7]}, the first month configured "
             "(first_month in sources.yaml)"),
        Rule("before_service_existed", "month", pl.col("period_start") < pl.col("live_from"),
             "the period starts before the service went live (live_from in the catalogue)"),
        Rule("unknown_channel", "channel", ~pl.col("channel").is_in(channels),
             f"channel is not one of {', '.join(channels)}"),
        Rule("channel_not_offered", "channel",
             ~pl.col("channel").is_in(["shared", ALL]) & ~pl.col("channels_offered").list.contains(pl.col("channel")),
             "the catalogue says the service does not offer this channel"),
    ]
    if return_type == "transactions":
        started, completed = _whole("transactions_started"), _whole("transactions_completed")
        return [*common,
                *_count_rules("transactions_started", max_count), *_count_rules("transactions_completed", max_count),
                _sum_rule(["transactions_started"], [1], max_count),
                _sum_rule(["transactions_completed"], [1], max_count),
                Rule("completed_above_started", "transactions_completed", completed > started,
                     "more transactions completed than started"),
                *(_total_rules(completed) if reported_total else [])]
    if return_type == "costs":
        return [*common,
                Rule("unknown_cost_category", "cost_category", ~pl.col("cost_category").is_in(COST_CATEGORIES),
                     f"cost_category is not one of {', '.join(COST_CATEGORIES)}"),
                Rule("required_value_missing", "cost_gbp", pl.col("cost_gbp").is_null(), "cost_gbp is required"),
                _not_finite("cost_gbp"),
                Rule("value_out_of_range", "cost_gbp",
                     pl.col("cost_gbp").cast(pl.Float64, strict=False).abs() > max_cost_gbp,
                     f"cost_gbp is above {max_cost_gbp:,.0f} (values.max_cost_gbp): not a plausible cost"),
                _not_a_number("cost_gbp", False),
                Rule("negative_cost", "cost_gbp", pl.col("cost_gbp").cast(pl.Float64, strict=False) < 0,
                     "cost_gbp is negative")]
    ratings = COUNTS["satisfaction"]
    return [*common, *(rule for c in ratings for rule in _count_rules(c, max_count)),
            _sum_rule(ratings, [1, 2, 3, 4, 5], max_count)]


def _total_rules(completed: pl.Expr) -> list[Rule]:
    """A wide row reports a total beside its channels: digital cannot exceed it, and channels that cover every
    channel the service offers must add up to it (a total beside only some channels is a reported total)."""
    total = _whole(TOTAL)
    source_row = [FILE, ROW]
    channel = pl.col("channel") != ALL
    all_provided = (completed.is_not_null() | ~channel).all().over(source_row)
    covers = channel.sum().over(source_row) >= pl.col("channels_offered").list.len()
    return [
        _not_a_number(TOTAL, True),
        Rule("digital_above_total", "transactions_completed",
             (pl.col("channel") == "online") & (completed > total), "digital completions exceed the reported total"),
        Rule("channels_do_not_sum_to_total", TOTAL,
             all_provided & covers & (pl.when(channel).then(completed).sum().over(source_row) != total),
             "the channels do not add up to the reported total"),
    ]


def apply_rules(frame: pl.DataFrame, checks: list[Rule]) -> pl.DataFrame:
    """Adds rule, column_name, offending_value and message: the first rule each row breaks, else nulls."""
    return frame.with_columns(
        rule=pl.coalesce([pl.when(r.broken).then(pl.lit(r.name)) for r in checks]),
        column_name=pl.coalesce([pl.when(r.broken).then(pl.lit(r.column)) for r in checks]),
        offending_value=pl.coalesce([pl.when(r.broken).then(pl.col(r.column).cast(pl.String).fill_null(""))
                                     for r in checks]),
        message=pl.coalesce([pl.when(r.broken).then(pl.lit(r.message)) for r in checks]),
    )


def first_failures(checked: pl.DataFrame, part: tuple[str, ...] = ()) -> pl.DataFrame:
    """One quarantine record per failing source row (or part of a row, say one period of it): the first rule it
    broke."""
    return (checked.filter(pl.col("rule").is_not_null())
            .group_by(FILE, ROW, *part, maintain_order=True).first()
            .select(pl.col(FILE).alias("source_file"), pl.col(ROW).alias("row_number"), "rule", "column_name",
                    "offending_value", "message"))


def _typed(frame: pl.DataFrame, return_type: str, month: str) -> pl.DataFrame:
    values = [_whole(c).alias(c) for c in COUNTS[return_type]]
    values += [pl.col(c).cast(pl.Float64, strict=False) for c in REPORTED_COLUMNS if c in frame.columns]
    if return_type == "costs":  # exact to the penny (half to even), then the double nearest that many pence
        values.append(pl.col("cost_gbp").cast(pl.Decimal(38, 2)).cast(pl.Float64))
    # the return's month: for a return of one period, the month its period ends in
    return frame.with_columns(pl.lit(month[:10]).str.to_date().alias("month"), *values)


def validate(frame: pl.DataFrame, return_type: str, agency_id: str, month: str, catalogue: pl.DataFrame,
             max_count: int = BIGINT_MAX, max_cost_gbp: float = 1e12, history: bool = False,
             first_month: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted rows, typed; quarantined source rows). `frame` is `normalise`d; `catalogue` has
    service_id, agency_id and channels_offered (a list). Rows come in the order they were sent (files in the
    order they arrived, rows in file order), so "first" means first sent. A row of several periods (a
    header-encoded layout) is accepted or quarantined period by period."""
    if "live_from" not in catalogue.columns:
        catalogue = catalogue.with_columns(pl.lit(None, pl.Date).alias("live_from"))
    joined = frame.join(catalogue.select("service_id", pl.col("agency_id").alias("catalogue_agency_id"),
                                         "channels_offered", "live_from"), on="service_id", how="left",
                        maintain_order="left")
    reported = [c for c in REPORTED_COLUMNS if c in frame.columns]
    checks = rules(return_type, agency_id, month, TOTAL in frame.columns, max_count, max_cost_gbp, history,
                   first_month)
    joined = apply_rules(joined, checks + [Rule(*r) for r in reported_rules(reported)])
    part = ("period_start", "grain") if reported else ()
    row_failed = pl.col("rule").is_not_null().any().over(FILE, ROW, *part)
    failed = first_failures(joined, part)
    good = _typed(joined.filter(~row_failed), return_type, month)

    good = mark_duplicates(good, KEYS[return_type],
                           [c for c in COLUMNS[return_type] if c not in KEYS[return_type]])
    failed = pl.concat([failed, first_failures(good)])
    accepted = good.filter(~row_failed).select(*COLUMNS[return_type], *PERIOD, *reported, FILE, ROW)
    return accepted, failed


def mark_duplicates(frame: pl.DataFrame, key: list[str], values: list[str]) -> pl.DataFrame:
    """Rules for repeated keys among rows that passed: an exact repeat loses to the first copy; copies that
    disagree are all set aside, since nobody can tell which one is right. Rows must be in the order sent."""
    copies = pl.len().over(key)
    versions = pl.struct(values).n_unique().over(key)
    first_copy = pl.int_range(pl.len()).over(key) == 0
    return frame.with_columns(
        rule=pl.when((copies > 1) & (versions > 1)).then(pl.lit("conflicting_duplicate"))
        .when((copies > 1) & ~first_copy).then(pl.lit("duplicate_row")),
        column_name=pl.lit(", ".join(key)),
        offending_value=pl.concat_str([pl.col(c).cast(pl.String) for c in key], separator=" "),
        message=pl.when(versions > 1).then(pl.lit("the same key is sent more than once with different figures"))
        .otherwise(pl.lit("an exact repeat of an earlier row")),
    )


def ignored_columns(frame: pl.DataFrame, layout: dict, return_type: str) -> list[str]:
    """Submitted columns the layout does not use (reported, not an error)."""
    renamed = [layout.get("rename", {}).get(c, c) for c in frame.columns if c not in (ROW, FILE, SHAPE)]
    unpivot = layout.get("unpivot") or {}
    used = {*COLUMNS[return_type], *unpivot.get("columns", {}), unpivot.get("total")}
    return [c for c in renamed if c not in used]
